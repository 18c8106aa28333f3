package terraform

import (
	"slices"
	"strings"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/model"
)

// credentials turns credentials that Terraform writes into places into
// grants relations from the place to what the credential unlocks: a
// reference to an aws_iam_access_key (its id or secret) unlocks the key's
// IAM user; a reference to an aws_db_instance or aws_rds_cluster (its
// password), or to the random_password that is its password, unlocks the
// database; a reference to the private key of a tls_private_key whose
// public half an aws_key_pair registers unlocks the instances launched
// with that key pair (Action ActionSSHKey). The places are Lambda
// environment variables, CodeBuild environment variables, ECS container
// environments, EC2 user data, SSM parameter values, Secrets Manager
// secret values, S3 objects (aws_s3_object content: the bucket holds
// it) and the data of Kubernetes Secrets the kubernetes provider writes
// (kubernetes_secret, in the one EKS cluster of the configuration; a
// service-account token Secret grants its service account); whoever
// reads the place (or runs code in it) holds the credential. The key
// itself grants its user. Values are never read, only the references in
// them.
func (b *builder) credentials() {
	unlocks := map[string][]string{} // resource base address -> keys
	for _, k := range b.of("aws_iam_access_key") {
		// State holds the key's id: places and scanner findings that
		// name it meet the key's user (package analyze).
		if ids := model.AWSAccessKeyIDs(str(k.v["id"])); len(ids) == 1 && str(k.v["id"]) == ids[0] {
			b.label(k.key, model.LabelAWSAccessKeyID, ids[0])
		}
		users := b.keysOf(str(k.v["user"]), "aws_iam_user")
		unlocks[k.base] = append(unlocks[k.base], users...)
		for _, u := range users {
			b.rel(k.key, u, model.RelGrants, "")
		}
	}
	for _, db := range b.of("aws_db_instance", "aws_rds_cluster") {
		unlocks[db.base] = appendNew(unlocks[db.base], db.key)
		// Its host names (state): a connection string a scanner finds
		// meets the database by them (package analyze).
		var hosts []string
		for _, attr := range []string{"address", "endpoint", "reader_endpoint"} {
			h, _, _ := strings.Cut(str(db.v[attr]), ":")
			if h = strings.ToLower(h); h != "" && !strings.Contains(h, refMark) && !strings.ContainsAny(h, ", ") {
				hosts = appendNew(hosts, h)
			}
		}
		if len(hosts) > 0 {
			b.label(db.key, model.LabelDBHosts, strings.Join(hosts, ","))
		}
		for _, attr := range []string{"password", "master_password"} {
			for _, base := range refs(str(db.v[attr])) {
				if base != db.base {
					unlocks[base] = appendNew(unlocks[base], db.key)
				}
			}
		}
	}
	sshKeys := b.sshKeys()
	if len(unlocks) == 0 && len(sshKeys) == 0 && len(b.of("kubernetes_secret", "kubernetes_secret_v1")) == 0 {
		return
	}
	grant := func(place string, values ...any) {
		for _, v := range values {
			for _, base := range deepRefs(v) {
				for _, k := range unlocks[base] {
					b.rel(place, k, model.RelGrants, "")
				}
				for _, k := range sshKeys[base] {
					b.rel(place, k, model.RelGrants, ActionSSHKey)
				}
			}
		}
	}
	// Objects a bucket holds: whoever reads the bucket reads them.
	for _, r := range b.of("aws_s3_object", "aws_s3_bucket_object") {
		for _, bk := range b.keysOf(str(r.v["bucket"]), "aws_s3_bucket") {
			grant(bk, r.v["content"], r.v["content_base64"])
		}
	}
	for _, r := range b.of("aws_lambda_function") {
		grant(r.key, block(r.v, "environment")["variables"])
	}
	for _, r := range b.of("aws_codebuild_project") {
		for _, env := range blocks(r.v, "environment") {
			for _, ev := range blocks(env, "environment_variable") {
				if t := str(ev["type"]); t == "" || t == "PLAINTEXT" {
					grant(r.key, ev["value"])
				}
			}
		}
	}
	for _, r := range b.of("aws_ecs_task_definition") {
		var places []string
		places = append(places, r.key)
		for _, s := range b.of("aws_ecs_service") {
			if slices.ContainsFunc(b.lookup(str(s.v["task_definition"]), "aws_ecs_task_definition"), func(td *resource) bool { return td == r }) {
				places = append(places, s.key)
			}
		}
		for _, c := range containerDefs(b, r.v["container_definitions"]) {
			for _, e := range anyMaps(c["environment"]) {
				for _, p := range places {
					grant(p, e["value"])
				}
			}
		}
	}
	for _, r := range b.of("aws_instance") {
		grant(r.key, r.v["user_data"], r.v["user_data_base64"])
	}
	for _, r := range b.of("aws_ssm_parameter") {
		grant(r.key, r.v["value"], r.v["insecure_value"])
	}
	for _, r := range b.of("aws_secretsmanager_secret_version") {
		for _, s := range b.keysOf(str(r.v["secret_id"]), "aws_secretsmanager_secret") {
			grant(s, r.v["secret_string"])
		}
	}
	// Kubernetes Secrets that Terraform writes (the kubernetes
	// provider): the Secret of the EKS cluster the configuration
	// describes, when it describes exactly one of known name.
	secrets := b.of("kubernetes_secret", "kubernetes_secret_v1")
	if len(secrets) == 0 {
		return
	}
	var clusters []string
	for _, c := range b.of("aws_eks_cluster") {
		if n := str(c.v["name"]); n != "" && !strings.Contains(n, refMark) {
			clusters = appendNew(clusters, n)
		}
	}
	for _, r := range secrets {
		md := block(r.v, "metadata")
		name, ns := str(md["name"]), str(md["namespace"])
		if ns == "" {
			ns = "default"
		}
		if len(clusters) != 1 || name == "" || strings.Contains(name+ns, refMark) {
			b.opts.Warn("terraform: %s: its cluster or name is unknown (one aws_eks_cluster of known name is needed), its credentials are not joined", r.addr)
			continue
		}
		key := model.K8sKey(clusters[0], ns, "Secret", name)
		b.asset(key, model.KindSecret, name)
		grant(key, r.v["data"], r.v["binary_data"], r.v["string_data"])
		// A service-account token Secret holds the account's token.
		if str(r.v["type"]) == "kubernetes.io/service-account-token" {
			if ann, ok := md["annotations"].(map[string]any); ok {
				if sa := str(ann["kubernetes.io/service-account.name"]); sa != "" && !strings.Contains(sa, refMark) {
					b.rel(key, model.K8sKey(clusters[0], ns, "ServiceAccount", sa), model.RelGrants, "")
				}
			}
		}
	}
}

// ActionSSHKey is the action of a grants relation from a place that
// holds an SSH private key to an instance launched with its key pair:
// whoever holds the key logs in to the instance.
const ActionSSHKey = "ssh private key"

// publicHalf marks a reference to the public key of a tls_private_key
// (public_key_openssh, public_key_pem), which is no credential.
const publicHalf = "#public"

// sshKeys returns, for each tls_private_key (by base address), the
// instances its private key logs in to: those launched with an
// aws_key_pair whose public_key is the key's public half, by reference
// or by the key pair's literal key_name. An instance whose key pair's
// public key is literal is labelled with its fingerprint
// (model.LabelSSHKeys).
func (b *builder) sshKeys() map[string][]string {
	pairs := b.of("aws_key_pair")
	if len(pairs) == 0 {
		return nil
	}
	out := map[string][]string{}
	for _, inst := range b.of("aws_instance") {
		kn := str(inst.v["key_name"])
		if kn == "" {
			continue
		}
		var kps []*resource
		if len(refs(kn)) > 0 {
			kps = b.lookup(kn, "aws_key_pair")
		} else {
			for _, kp := range pairs {
				if str(kp.v["key_name"]) == kn {
					kps = append(kps, kp)
				}
			}
		}
		var fps []string
		for _, kp := range kps {
			if fp := ingest.SSHFingerprint(str(kp.v["public_key"])); fp != "" {
				fps = appendNew(fps, fp)
			}
			for _, base := range refs(str(kp.v["public_key"])) {
				if tls, ok := strings.CutSuffix(base, publicHalf); ok {
					out[tls] = appendNew(out[tls], inst.key)
				}
			}
		}
		if len(fps) > 0 {
			// A literal public key: a scanner's finding of its private
			// half meets the instance by fingerprint (package analyze).
			b.label(inst.key, model.LabelSSHKeys, strings.Join(fps, ","))
		}
	}
	return out
}

// deepRefs returns the resource addresses referenced anywhere in a value.
func deepRefs(v any) []string {
	switch v := v.(type) {
	case string:
		return refs(v)
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, deepRefs(e)...)
		}
		return out
	case map[string]any:
		var out []string
		for _, e := range v {
			out = append(out, deepRefs(e)...)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	return nil
}
