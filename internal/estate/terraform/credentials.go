package terraform

import (
	"slices"
	"strings"

	"github.com/ctem-dev/ctem/internal/model"
)

// credentials turns credentials that Terraform writes into places into
// grants relations from the place to what the credential unlocks: a
// reference to an aws_iam_access_key (its id or secret) unlocks the key's
// IAM user; a reference to an aws_db_instance or aws_rds_cluster (its
// password), or to the random_password that is its password, unlocks the
// database. The places are Lambda environment variables, CodeBuild
// environment variables, ECS container environments, EC2 user data, SSM
// parameter values, Secrets Manager secret values and the data of
// Kubernetes Secrets the kubernetes provider writes (kubernetes_secret, in
// the one EKS cluster of the configuration); whoever reads the
// place (or runs code in it) holds the credential. The key itself grants
// its user. Values are never read, only the references in them.
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
		for _, attr := range []string{"password", "master_password"} {
			for _, base := range refs(str(db.v[attr])) {
				if base != db.base {
					unlocks[base] = appendNew(unlocks[base], db.key)
				}
			}
		}
	}
	if len(unlocks) == 0 {
		return
	}
	grant := func(place string, values ...any) {
		for _, v := range values {
			for _, base := range deepRefs(v) {
				for _, k := range unlocks[base] {
					b.rel(place, k, model.RelGrants, "")
				}
			}
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
	}
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
