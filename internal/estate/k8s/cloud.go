package k8s

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ctem-dev/ctem/internal/model"
)

// Keys of cloud identities that Kubernetes service accounts act as. AWS
// roles are keyed by their ARN, as the Terraform and IAM sources key
// them when the ARN is known (the estate's correlation maps an ARN to a
// Terraform role of that name otherwise).
const (
	// GCPServiceAccountPrefix starts the key of a Google service account
	// by e-mail (GKE workload identity).
	GCPServiceAccountPrefix = "gcp:serviceaccount/"
	// AzureIdentityPrefix starts the key of an Azure managed identity or
	// application by client id (Azure workload identity).
	AzureIdentityPrefix = "azure:identity/"
)

// authMapping is one entry of the aws-auth ConfigMap's mapRoles or
// mapUsers: an IAM role or user that authenticates as a Kubernetes user
// in groups.
type authMapping struct {
	src      string
	ARN      string   `json:"a" yaml:"-"`
	RoleARN  string   `json:"-" yaml:"rolearn"`
	UserARN  string   `json:"-" yaml:"userarn"`
	Username string   `json:"u,omitempty" yaml:"username"`
	Groups   []string `json:"g,omitempty" yaml:"groups"`
}

// awsAuth reads the mapRoles and mapUsers of the aws-auth ConfigMap, YAML
// documents held in strings.
func awsAuth(o *object) ([]authMapping, error) {
	var data map[string]string
	if err := o.Data.decode(&data); err != nil {
		return nil, err
	}
	out := []authMapping{}
	for _, k := range []string{"mapRoles", "mapUsers"} {
		v := strings.TrimSpace(data[k])
		if v == "" {
			continue
		}
		var ms []authMapping
		if err := safeYAML(func() error { return yaml.Unmarshal([]byte(v), &ms) }); err != nil {
			return nil, fmt.Errorf("aws-auth %s: %w", k, err)
		}
		for _, m := range ms {
			m.ARN = m.RoleARN
			if k == "mapUsers" {
				m.ARN = m.UserARN
			}
			if !strings.HasPrefix(m.ARN, "arn:") {
				return nil, fmt.Errorf("aws-auth %s: an entry without %s", k, map[string]string{"mapRoles": "rolearn", "mapUsers": "userarn"}[k])
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// cloudRelations joins the cluster to the clouds it runs in:
//   - a service account annotated with eks.amazonaws.com/role-arn (IRSA)
//     uses-identity that IAM role; iam.gke.io/gcp-service-account a
//     Google service account; azure.workload.identity/client-id an Azure
//     identity;
//   - an IAM role or user of the aws-auth ConfigMap is member-of the
//     Kubernetes user and groups it maps to, and the system:masters group
//     can "*" on the cluster (it is the API server's superuser group, no
//     binding needed).
func (p *parser) cloudRelations() error {
	for _, k := range slices.Sorted(maps.Keys(p.accounts)) {
		a := p.accounts[k]
		sa := p.key(a.ns, "ServiceAccount", a.name)
		for _, ann := range slices.Sorted(maps.Keys(a.Annotations)) {
			v := strings.TrimSpace(a.Annotations[ann])
			var key string
			switch ann {
			case "eks.amazonaws.com/role-arn":
				if strings.HasPrefix(v, "arn:") {
					key = v
				}
			case "iam.gke.io/gcp-service-account":
				if v != "" {
					key = GCPServiceAccountPrefix + strings.ToLower(v)
				}
			case "azure.workload.identity/client-id":
				if v != "" {
					key = AzureIdentityPrefix + strings.ToLower(v)
				}
			}
			if key == "" {
				continue
			}
			if err := p.asset(model.Asset{Key: key, Kind: model.KindIdentity, Name: v}, a.src); err != nil {
				return err
			}
			if err := p.rel(a.src, sa, key, model.RelUsesIdentit, ""); err != nil {
				return err
			}
		}
	}
	masters := false
	for _, m := range p.awsAuth {
		if err := p.asset(model.Asset{Key: m.ARN, Kind: model.KindIdentity, Name: m.ARN}, m.src); err != nil {
			return err
		}
		var to []string
		if m.Username != "" && !strings.Contains(m.Username, "{{") {
			to = append(to, p.key("", "User", m.Username))
		}
		for _, g := range m.Groups {
			to = append(to, p.key("", "Group", g))
			masters = masters || g == "system:masters"
		}
		for _, k := range to {
			_, _, _, name, _ := model.ParseK8sKey(k)
			if err := p.asset(model.Asset{Key: k, Kind: model.KindIdentity, Name: name}, m.src); err != nil {
				return err
			}
			if err := p.rel(m.src, m.ARN, k, model.RelMemberOf, ""); err != nil {
				return err
			}
		}
	}
	if masters {
		src := p.awsAuth[0].src
		if err := p.rel(src, p.key("", "Group", "system:masters"), p.clusterKey, model.RelCan, "*"); err != nil {
			return err
		}
	}
	return nil
}
