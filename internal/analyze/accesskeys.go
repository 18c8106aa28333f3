package analyze

import (
	"context"
	"strings"

	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// accessKeys turns AWS access key ids found in places into the IAM
// identities they unlock. The estate knows an access key's id from
// Terraform state (label model.LabelAWSAccessKeyID on the
// aws_iam_access_key, which —grants→ its user); then
//   - a place whose values hold that id (a Kubernetes Secret, label
//     model.LabelAWSAccessKeyIDs) —grants→ the key's user;
//   - a secret finding whose secret is that id (Gitleaks'
//     aws-access-token rule and TruffleHog's AWS detector report the key
//     id as the secret; ctem keeps its keyed hash, which is compared with
//     the hash of each known id under the database's secret key) grants
//     the key's user (Weakness.Grants);
//   - a TruffleHog finding of a verified AWS key names the key's user by
//     its ARN ("arn: …" in its description): it grants the identity of
//     that ARN (an asset keyed by it, labelled aws.arn with it, or the
//     one IAM user of its name).
//
// SSH private keys meet their hosts likewise: a secret finding whose
// description gives the fingerprint of the key found (model.SSHKeyLine,
// as the Gitleaks and TruffleHog readers write it) grants the hosts
// labelled with that fingerprint (model.LabelSSHKeys, from the literal
// public key of the key pair Terraform launches them with), and a
// database connection string with a password (model.DBHostLine) grants
// the databases reached at its host (model.LabelDBHosts: an RDS
// instance's address in Terraform state), and a Kubernetes
// service-account token (model.SATokenLine, from the token's claims)
// grants the service account of that namespace and name when exactly one
// cluster of the estate has one (a token names not its cluster).
//
// A secret finding that holds only the secret access key (a generic
// high-entropy rule), or whose key id the estate does not know
// (authorization details list no access keys; Terraform configuration
// learns the id only on apply), matches nothing: the id is what is
// missing. Findings are read only when the estate has a key id or an IAM
// user and there are secret weaknesses.
func accessKeys(ctx context.Context, st store.Store, gi *graph.Input) error {
	keyOf := map[string]string{} // key asset -> id
	users := map[string]string{} // user name -> key, "" when ambiguous
	arns := map[string]string{}  // ARN -> asset key
	for _, a := range gi.Assets {
		if id := a.Labels[model.LabelAWSAccessKeyID]; id != "" {
			keyOf[a.Key] = id
		}
		if strings.HasPrefix(a.Key, "arn:aws:iam::") {
			arns[a.Key] = a.Key
		}
		if arn := a.Labels["aws.arn"]; strings.HasPrefix(arn, "arn:aws:iam::") {
			arns[arn] = a.Key
		}
		if a.Labels["aws.type"] == "aws_iam_user" {
			if _, seen := users[a.Name]; seen {
				users[a.Name] = ""
			} else {
				users[a.Name] = a.Key
			}
		}
	}
	hosts := map[string][]string{} // SSH key fingerprint -> hosts that accept it
	dbs := map[string][]string{}   // host name -> databases reached there
	sas := map[string][]string{}   // NAMESPACE/NAME -> service accounts, one per cluster
	for _, a := range gi.Assets {
		if rest, ok := strings.CutPrefix(a.Key, "k8s:"); ok && strings.Contains(rest, "/ServiceAccount/") {
			_, nsName, _ := strings.Cut(rest, "/")
			ns, name, _ := strings.Cut(nsName, "/ServiceAccount/")
			sas[ns+"/"+name] = appendNew(sas[ns+"/"+name], a.Key)
		}
		if v := a.Labels[model.LabelSSHKeys]; v != "" {
			for fp := range strings.SplitSeq(v, ",") {
				hosts[fp] = appendNew(hosts[fp], a.Key)
			}
		}
		if v := a.Labels[model.LabelDBHosts]; v != "" {
			for h := range strings.SplitSeq(v, ",") {
				dbs[h] = appendNew(dbs[h], a.Key)
			}
		}
	}
	grants := map[string][]string{} // key id -> identities
	for _, r := range gi.Relations {
		if id := keyOf[r.From]; id != "" && r.Type == model.RelGrants {
			grants[id] = appendNew(grants[id], r.To)
		}
	}
	var added []model.Relation
	for _, a := range gi.Assets {
		for id := range strings.SplitSeq(a.Labels[model.LabelAWSAccessKeyIDs], ",") {
			for _, to := range grants[id] {
				added = append(added, model.Relation{From: a.Key, To: to, Type: model.RelGrants, Action: "aws access key " + id, Source: "aws-key-join"})
			}
		}
	}
	if len(added) > 0 {
		gi.Relations = append(gi.Relations[:len(gi.Relations):len(gi.Relations)], added...)
	}
	secretWeak := map[string][]int{}
	for i, w := range gi.Weaknesses {
		if w.Exposure.Kind == model.FindingSecret {
			secretWeak[w.Exposure.ID] = append(secretWeak[w.Exposure.ID], i)
		}
	}
	if len(secretWeak) == 0 || len(grants) == 0 && len(users) == 0 && len(hosts) == 0 && len(dbs) == 0 && len(sas) == 0 {
		return nil
	}
	byHash := map[string]string{}
	if len(grants) > 0 {
		key, err := st.SecretKey(ctx)
		if err != nil {
			return err
		}
		for id := range grants {
			h, _ := ingest.RedactSecret(key, id)
			byHash[h] = id
		}
	}
	for f, err := range st.Findings(ctx, store.Filter{Kinds: []string{string(model.FindingSecret)}, Statuses: []model.Status{model.StatusOpen}}) {
		if err != nil {
			return err
		}
		idx, ok := secretWeak[f.ExposureID]
		if !ok {
			continue
		}
		var to []string
		if id, ok := byHash[f.SecretHash]; ok && f.SecretHash != "" {
			to = append(to, grants[id]...)
		}
		for line := range strings.SplitSeq(f.Description, "\n") {
			if fp, ok := strings.CutPrefix(line, model.SSHKeyLine); ok {
				for _, h := range hosts[fp] {
					to = appendNew(to, h)
				}
				continue
			}
			if sa, ok := strings.CutPrefix(line, model.SATokenLine); ok {
				// The account of that name, when one cluster has it: a
				// token says not which cluster issued it.
				if keys := sas[sa]; len(keys) == 1 {
					to = appendNew(to, keys[0])
				}
				continue
			}
			if h, ok := strings.CutPrefix(line, model.DBHostLine); ok {
				for _, db := range dbs[h] {
					to = appendNew(to, db)
				}
				continue
			}
			arn, ok := strings.CutPrefix(line, "arn: ")
			if !ok || !strings.HasPrefix(arn, "arn:aws:iam::") {
				continue
			}
			k := arns[arn]
			if k == "" && strings.Contains(arn, ":user/") {
				k = users[arn[strings.LastIndexByte(arn, '/')+1:]]
			}
			if k != "" {
				to = appendNew(to, k)
			}
		}
		for _, i := range idx {
			for _, k := range to {
				gi.Weaknesses[i].Grants = appendNew(gi.Weaknesses[i].Grants, k)
			}
		}
	}
	return nil
}

func appendNew(s []string, v string) []string {
	for _, e := range s {
		if e == v {
			return s
		}
	}
	return append(s, v)
}
