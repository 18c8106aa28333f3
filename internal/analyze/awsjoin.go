package analyze

import (
	"strings"

	"github.com/ctem-dev/ctem/internal/estate/awsiam"
	"github.com/ctem-dev/ctem/internal/intel/iam"
	"github.com/ctem-dev/ctem/internal/model"
)

// awsPatterns joins the inputs of one AWS account on ARNs: an asset that
// stands for the resources a wildcard policy pattern names, as one
// resource type (package awsiam writes them from an account's
// authorization details), contains every asset of another input
// (Terraform state, an inventory) whose ARN has that type, lies in that
// account and matches the pattern. The graph then gives what is granted
// on the pattern to each of them. O(patterns × ARN assets).
func awsPatterns(assets []model.Asset) []model.Relation {
	type arnAsset struct{ key, arn, account string }
	var arns []arnAsset
	var patterns []model.Asset
	for _, a := range assets {
		if a.Labels[awsiam.PatternLabel] != "" {
			patterns = append(patterns, a)
			continue
		}
		arn := a.Key
		if !strings.HasPrefix(arn, "arn:") {
			arn = a.Labels["aws.arn"]
		}
		for _, al := range a.Aliases {
			if arn == "" && strings.HasPrefix(al, "arn:") {
				arn = al
			}
		}
		f := strings.SplitN(arn, ":", 6)
		if len(f) < 6 || f[0] != "arn" {
			continue
		}
		arns = append(arns, arnAsset{a.Key, arn, f[4]})
	}
	if len(patterns) == 0 || len(arns) == 0 {
		return nil
	}
	c := iam.Default()
	var out []model.Relation
	for _, p := range patterns {
		pat := p.Labels[awsiam.PatternLabel]
		svc, typ, _ := strings.Cut(p.Labels[awsiam.PatternTypeLabel], "/")
		acct := p.Labels[awsiam.PatternAccountLabel]
		for _, a := range arns {
			if a.account != "" && acct != "" && a.account != acct {
				continue
			}
			if !c.IsOfType(a.arn, svc, typ) {
				continue
			}
			if !iam.MatchARN(pat, a.arn, false) && !(svc == "s3" && typ == "object" && iam.MatchARN(pat, a.arn+"/", true)) {
				continue
			}
			out = append(out, model.Relation{From: p.Key, To: a.key, Type: model.RelContains, Source: "aws-join"})
		}
	}
	return out
}
