package k8s

import (
	"errors"
	"slices"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
	"go.yaml.in/yaml/v3"

	"github.com/ctem-dev/ctem/internal/ingest"
)

// The parts of Kubernetes objects the mapping reads. Everything else in a
// manifest is ignored; of Secret data only AWS access key ids are kept.

// object is one Kubernetes object, or a List of them. Spec is kept raw
// and decoded by kind, since kinds give "selector" different shapes.
type object struct {
	APIVersion string `json:"apiVersion" yaml:"apiVersion"`
	Kind       string `json:"kind" yaml:"kind"`
	Metadata   meta   `json:"metadata" yaml:"metadata"`
	Spec       raw    `json:"spec" yaml:"spec"`
	Type       string `json:"type" yaml:"type"` // Secret
	// AutomountServiceAccountToken is a ServiceAccount's setting.
	AutomountServiceAccountToken *bool        `json:"automountServiceAccountToken" yaml:"automountServiceAccountToken"`
	Rules                        []policyRule `json:"rules" yaml:"rules"`
	Subjects                     []subject    `json:"subjects" yaml:"subjects"`
	RoleRef                      roleRef      `json:"roleRef" yaml:"roleRef"`
	Items                        []object     `json:"items" yaml:"items"`
	// Data is decoded for the aws-auth ConfigMap, and a Secret's data
	// and stringData are searched for AWS access key ids (identifiers;
	// nothing else of them is kept); other ConfigMap data are never read.
	Data       raw `json:"data" yaml:"data"`
	StringData raw `json:"stringData" yaml:"stringData"`
	// Status is read for the addresses of LoadBalancer services and
	// Ingresses (status.loadBalancer.ingress), nothing else.
	Status raw `json:"status" yaml:"status"`

	line int // YAML line of the object, for errors
}

type meta struct {
	Name        string            `json:"name" yaml:"name"`
	Namespace   string            `json:"namespace" yaml:"namespace"`
	Labels      map[string]string `json:"labels" yaml:"labels"`
	Annotations map[string]string `json:"annotations" yaml:"annotations"`
	// OwnerReferences name the controller of a live object: a Pod's
	// ReplicaSet, a ReplicaSet's Deployment.
	OwnerReferences []struct {
		Kind       string `json:"kind" yaml:"kind"`
		Name       string `json:"name" yaml:"name"`
		Controller *bool  `json:"controller" yaml:"controller"`
	} `json:"ownerReferences" yaml:"ownerReferences"`
}

// controller returns "Kind/name" of the object's controller (the owner
// marked controller, else the first), or "".
func (m *meta) controller() string {
	for _, o := range m.OwnerReferences {
		if o.Controller != nil && *o.Controller && o.Kind != "" && o.Name != "" {
			return o.Kind + "/" + o.Name
		}
	}
	if len(m.OwnerReferences) > 0 && m.OwnerReferences[0].Kind != "" && m.OwnerReferences[0].Name != "" {
		return m.OwnerReferences[0].Kind + "/" + m.OwnerReferences[0].Name
	}
	return ""
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
	MatchLabels      map[string]string `json:"matchLabels,omitempty" yaml:"matchLabels"`
	MatchExpressions []struct {
		Key      string   `json:"key" yaml:"key"`
		Operator string   `json:"operator" yaml:"operator"`
		Values   []string `json:"values,omitempty" yaml:"values"`
	} `json:"matchExpressions,omitempty" yaml:"matchExpressions"`
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
	ServiceAccountName           string      `json:"serviceAccountName" yaml:"serviceAccountName"`
	ServiceAccount               string      `json:"serviceAccount" yaml:"serviceAccount"`
	AutomountServiceAccountToken *bool       `json:"automountServiceAccountToken" yaml:"automountServiceAccountToken"`
	NodeName                     string      `json:"nodeName" yaml:"nodeName"`
	ShareProcessNamespace        bool        `json:"shareProcessNamespace" yaml:"shareProcessNamespace"`
	HostNetwork                  bool        `json:"hostNetwork" yaml:"hostNetwork"`
	HostPID                      bool        `json:"hostPID" yaml:"hostPID"`
	HostIPC                      bool        `json:"hostIPC" yaml:"hostIPC"`
	Containers                   []container `json:"containers" yaml:"containers"`
	InitContainers               []container `json:"initContainers" yaml:"initContainers"`
	EphemeralContainers          []container `json:"ephemeralContainers" yaml:"ephemeralContainers"`
	Volumes                      []volume    `json:"volumes" yaml:"volumes"`
}

type nameRef struct {
	Name string `json:"name" yaml:"name"`
}

type container struct {
	Name  string `json:"name" yaml:"name"`
	Image string `json:"image" yaml:"image"`
	Ports []struct {
		Name          string `json:"name" yaml:"name"`
		ContainerPort int    `json:"containerPort" yaml:"containerPort"`
		Protocol      string `json:"protocol" yaml:"protocol"`
	} `json:"ports" yaml:"ports"`
	VolumeMounts []struct {
		Name     string `json:"name" yaml:"name"`
		ReadOnly bool   `json:"readOnly" yaml:"readOnly"`
	} `json:"volumeMounts" yaml:"volumeMounts"`
	Env []struct {
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
			Secret              *nameRef  `json:"secret" yaml:"secret"`
			ConfigMap           *nameRef  `json:"configMap" yaml:"configMap"`
			ServiceAccountToken *struct{} `json:"serviceAccountToken" yaml:"serviceAccountToken"`
		} `json:"sources" yaml:"sources"`
	} `json:"projected" yaml:"projected"`
}

type serviceSpec struct {
	Type     string            `json:"type" yaml:"type"`
	Selector map[string]string `json:"selector" yaml:"selector"`
	Ports    []struct {
		Name       string    `json:"name" yaml:"name"`
		Port       int       `json:"port" yaml:"port"`
		TargetPort intOrName `json:"targetPort" yaml:"targetPort"`
		Protocol   string    `json:"protocol" yaml:"protocol"`
	} `json:"ports" yaml:"ports"`
}

// intOrName is a port given by number or by the name of a container
// port, kept as text.
type intOrName string

// UnmarshalYAML takes a scalar of either kind.
func (p *intOrName) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New("a port must be a number or a name")
	}
	*p = intOrName(n.Value)
	return nil
}

// UnmarshalJSONFrom takes a JSON number or string.
func (p *intOrName) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	tok, err := dec.ReadToken()
	if err != nil {
		return err
	}
	switch tok.Kind() {
	case '0':
		*p = intOrName(tok.String())
	case '"':
		*p = intOrName(tok.String())
	case 'n':
	default:
		return errors.New("a port must be a number or a name")
	}
	return nil
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
		Host string `json:"host" yaml:"host"`
		HTTP *struct {
			Paths []struct {
				Path     string  `json:"path" yaml:"path"`
				PathType string  `json:"pathType" yaml:"pathType"`
				Backend  backend `json:"backend" yaml:"backend"`
			} `json:"paths" yaml:"paths"`
		} `json:"http" yaml:"http"`
	} `json:"rules" yaml:"rules"`
	TLS []struct {
		Hosts []string `json:"hosts" yaml:"hosts"`
	} `json:"tls" yaml:"tls"`
}

// lbStatus is the status of a LoadBalancer service or an Ingress: the
// addresses the load balancer in front of it answers at.
type lbStatus struct {
	LoadBalancer struct {
		Ingress []struct {
			IP       string `json:"ip" yaml:"ip"`
			Hostname string `json:"hostname" yaml:"hostname"`
		} `json:"ingress" yaml:"ingress"`
	} `json:"loadBalancer" yaml:"loadBalancer"`
}

// addresses returns the status's IP addresses and host names.
func (s *lbStatus) addresses() []string {
	var out []string
	for _, in := range s.LoadBalancer.Ingress {
		for _, a := range []string{in.IP, in.Hostname} {
			if a = strings.TrimSpace(a); a != "" && !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out
}

type policyRule struct {
	APIGroups       []string `json:"apiGroups,omitempty" yaml:"apiGroups"`
	Resources       []string `json:"resources,omitempty" yaml:"resources"`
	ResourceNames   []string `json:"resourceNames,omitempty" yaml:"resourceNames"`
	Verbs           []string `json:"verbs,omitempty" yaml:"verbs"`
	NonResourceURLs []string `json:"nonResourceURLs,omitempty" yaml:"nonResourceURLs"`
}

type subject struct {
	Kind      string `json:"kind" yaml:"kind"`
	Name      string `json:"name" yaml:"name"`
	Namespace string `json:"namespace,omitempty" yaml:"namespace"`
}

type roleRef struct {
	Kind string `json:"kind" yaml:"kind"`
	Name string `json:"name" yaml:"name"`
}

type networkPolicySpec struct {
	PodSelector labelSelector `json:"podSelector" yaml:"podSelector"`
	PolicyTypes []string      `json:"policyTypes,omitempty" yaml:"policyTypes"`
	Ingress     []struct {
		From  []peer       `json:"from,omitempty" yaml:"from"`
		Ports []policyPort `json:"ports,omitempty" yaml:"ports"`
	} `json:"ingress,omitempty" yaml:"ingress"`
	Egress []struct {
		To    []peer       `json:"to,omitempty" yaml:"to"`
		Ports []policyPort `json:"ports,omitempty" yaml:"ports"`
	} `json:"egress,omitempty" yaml:"egress"`
}

// policyPort is one port of a NetworkPolicy rule: a number or a named
// container port, up to EndPort when set.
type policyPort struct {
	Protocol string    `json:"protocol,omitempty" yaml:"protocol"`
	Port     intOrName `json:"port,omitempty" yaml:"port"`
	EndPort  int       `json:"endPort,omitempty" yaml:"endPort"`
}

type peer struct {
	PodSelector       *labelSelector `json:"podSelector,omitempty" yaml:"podSelector"`
	NamespaceSelector *labelSelector `json:"namespaceSelector,omitempty" yaml:"namespaceSelector"`
	IPBlock           *struct {
		CIDR string `json:"cidr" yaml:"cidr"`
	} `json:"ipBlock,omitempty" yaml:"ipBlock"`
}
