package k8s

import (
	"slices"

	"github.com/go-json-experiment/json/jsontext"
	"go.yaml.in/yaml/v3"

	"github.com/ctem-dev/ctem/internal/ingest"
)

// The parts of Kubernetes objects the mapping reads. Everything else in a
// manifest is ignored; Secret and ConfigMap data are never decoded.

// object is one Kubernetes object, or a List of them. Spec is kept raw
// and decoded by kind, since kinds give "selector" different shapes.
type object struct {
	APIVersion string       `json:"apiVersion" yaml:"apiVersion"`
	Kind       string       `json:"kind" yaml:"kind"`
	Metadata   meta         `json:"metadata" yaml:"metadata"`
	Spec       raw          `json:"spec" yaml:"spec"`
	Type       string       `json:"type" yaml:"type"` // Secret
	Rules      []policyRule `json:"rules" yaml:"rules"`
	Subjects   []subject    `json:"subjects" yaml:"subjects"`
	RoleRef    roleRef      `json:"roleRef" yaml:"roleRef"`
	Items      []object     `json:"items" yaml:"items"`

	line int // YAML line of the object, for errors
}

type meta struct {
	Name      string            `json:"name" yaml:"name"`
	Namespace string            `json:"namespace" yaml:"namespace"`
	Labels    map[string]string `json:"labels" yaml:"labels"`
}

// raw is a value decoded later: a YAML node or a JSON value.
type raw struct {
	y *yaml.Node
	j jsontext.Value
}

// UnmarshalYAML keeps the node.
func (r *raw) UnmarshalYAML(n *yaml.Node) error { r.y = n; return nil }

// UnmarshalJSONFrom keeps a copy of the value.
func (r *raw) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	v, err := dec.ReadValue()
	if err != nil {
		return err
	}
	r.j = slices.Clone(v)
	return nil
}

// decode decodes the kept value into v; an absent value leaves v alone.
func (r raw) decode(v any) error {
	switch {
	case r.y != nil:
		return r.y.Decode(v)
	case r.j != nil:
		return ingest.UnmarshalJSON(r.j, v)
	}
	return nil
}

// line is the YAML line of the value, or 0.
func (r raw) line() int {
	if r.y != nil {
		return r.y.Line
	}
	return 0
}

type labelSelector struct {
	MatchLabels      map[string]string `json:"matchLabels" yaml:"matchLabels"`
	MatchExpressions []struct {
		Key      string   `json:"key" yaml:"key"`
		Operator string   `json:"operator" yaml:"operator"`
		Values   []string `json:"values" yaml:"values"`
	} `json:"matchExpressions" yaml:"matchExpressions"`
}

// matches reports whether labels satisfy the selector; an empty selector
// matches everything, an unknown operator nothing.
func (s *labelSelector) matches(labels map[string]string) bool {
	for k, v := range s.MatchLabels {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	for _, e := range s.MatchExpressions {
		v, ok := labels[e.Key]
		switch e.Operator {
		case "In":
			if !ok || !slices.Contains(e.Values, v) {
				return false
			}
		case "NotIn":
			if ok && slices.Contains(e.Values, v) {
				return false
			}
		case "Exists":
			if !ok {
				return false
			}
		case "DoesNotExist":
			if ok {
				return false
			}
		default:
			return false
		}
	}
	return true
}

type podTemplate struct {
	Metadata meta    `json:"metadata" yaml:"metadata"`
	Spec     podSpec `json:"spec" yaml:"spec"`
}

// workloadSpec covers Deployments, StatefulSets, DaemonSets, ReplicaSets
// and Jobs (template) and CronJobs (jobTemplate).
type workloadSpec struct {
	Template    podTemplate `json:"template" yaml:"template"`
	JobTemplate struct {
		Spec struct {
			Template podTemplate `json:"template" yaml:"template"`
		} `json:"spec" yaml:"spec"`
	} `json:"jobTemplate" yaml:"jobTemplate"`
}

type podSpec struct {
	ServiceAccountName  string      `json:"serviceAccountName" yaml:"serviceAccountName"`
	ServiceAccount      string      `json:"serviceAccount" yaml:"serviceAccount"`
	HostNetwork         bool        `json:"hostNetwork" yaml:"hostNetwork"`
	HostPID             bool        `json:"hostPID" yaml:"hostPID"`
	HostIPC             bool        `json:"hostIPC" yaml:"hostIPC"`
	Containers          []container `json:"containers" yaml:"containers"`
	InitContainers      []container `json:"initContainers" yaml:"initContainers"`
	EphemeralContainers []container `json:"ephemeralContainers" yaml:"ephemeralContainers"`
	Volumes             []volume    `json:"volumes" yaml:"volumes"`
}

type nameRef struct {
	Name string `json:"name" yaml:"name"`
}

type container struct {
	Name  string `json:"name" yaml:"name"`
	Image string `json:"image" yaml:"image"`
	Env   []struct {
		ValueFrom *struct {
			SecretKeyRef    *nameRef `json:"secretKeyRef" yaml:"secretKeyRef"`
			ConfigMapKeyRef *nameRef `json:"configMapKeyRef" yaml:"configMapKeyRef"`
		} `json:"valueFrom" yaml:"valueFrom"`
	} `json:"env" yaml:"env"`
	EnvFrom []struct {
		SecretRef    *nameRef `json:"secretRef" yaml:"secretRef"`
		ConfigMapRef *nameRef `json:"configMapRef" yaml:"configMapRef"`
	} `json:"envFrom" yaml:"envFrom"`
	SecurityContext *struct {
		Privileged               *bool `json:"privileged" yaml:"privileged"`
		AllowPrivilegeEscalation *bool `json:"allowPrivilegeEscalation" yaml:"allowPrivilegeEscalation"`
		Capabilities             *struct {
			Add []string `json:"add" yaml:"add"`
		} `json:"capabilities" yaml:"capabilities"`
	} `json:"securityContext" yaml:"securityContext"`
}

type volume struct {
	Name     string `json:"name" yaml:"name"`
	HostPath *struct {
		Path string `json:"path" yaml:"path"`
	} `json:"hostPath" yaml:"hostPath"`
	Secret *struct {
		SecretName string `json:"secretName" yaml:"secretName"`
	} `json:"secret" yaml:"secret"`
	ConfigMap *nameRef `json:"configMap" yaml:"configMap"`
	Projected *struct {
		Sources []struct {
			Secret    *nameRef `json:"secret" yaml:"secret"`
			ConfigMap *nameRef `json:"configMap" yaml:"configMap"`
		} `json:"sources" yaml:"sources"`
	} `json:"projected" yaml:"projected"`
}

type serviceSpec struct {
	Type     string            `json:"type" yaml:"type"`
	Selector map[string]string `json:"selector" yaml:"selector"`
}

// backend covers networking.k8s.io/v1 (service.name) and the older
// extensions/v1beta1 (serviceName) Ingress backends.
type backend struct {
	Service *struct {
		Name string `json:"name" yaml:"name"`
	} `json:"service" yaml:"service"`
	ServiceName string `json:"serviceName" yaml:"serviceName"`
}

func (b *backend) name() string {
	if b == nil {
		return ""
	}
	if b.Service != nil && b.Service.Name != "" {
		return b.Service.Name
	}
	return b.ServiceName
}

type ingressSpec struct {
	DefaultBackend *backend `json:"defaultBackend" yaml:"defaultBackend"`
	Backend        *backend `json:"backend" yaml:"backend"`
	Rules          []struct {
		HTTP *struct {
			Paths []struct {
				Backend backend `json:"backend" yaml:"backend"`
			} `json:"paths" yaml:"paths"`
		} `json:"http" yaml:"http"`
	} `json:"rules" yaml:"rules"`
}

type policyRule struct {
	APIGroups       []string `json:"apiGroups" yaml:"apiGroups"`
	Resources       []string `json:"resources" yaml:"resources"`
	ResourceNames   []string `json:"resourceNames" yaml:"resourceNames"`
	Verbs           []string `json:"verbs" yaml:"verbs"`
	NonResourceURLs []string `json:"nonResourceURLs" yaml:"nonResourceURLs"`
}

type subject struct {
	Kind      string `json:"kind" yaml:"kind"`
	Name      string `json:"name" yaml:"name"`
	Namespace string `json:"namespace" yaml:"namespace"`
}

type roleRef struct {
	Kind string `json:"kind" yaml:"kind"`
	Name string `json:"name" yaml:"name"`
}

type networkPolicySpec struct {
	PodSelector labelSelector `json:"podSelector" yaml:"podSelector"`
	PolicyTypes []string      `json:"policyTypes" yaml:"policyTypes"`
	Ingress     []struct {
		From []peer `json:"from" yaml:"from"`
	} `json:"ingress" yaml:"ingress"`
	Egress []struct {
		To []peer `json:"to" yaml:"to"`
	} `json:"egress" yaml:"egress"`
}

type peer struct {
	PodSelector       *labelSelector `json:"podSelector" yaml:"podSelector"`
	NamespaceSelector *labelSelector `json:"namespaceSelector" yaml:"namespaceSelector"`
	IPBlock           *struct {
		CIDR string `json:"cidr" yaml:"cidr"`
	} `json:"ipBlock" yaml:"ipBlock"`
}
