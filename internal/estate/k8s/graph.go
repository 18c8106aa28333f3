package k8s

import (
	"maps"
	"slices"
	"strings"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/model"
)

// InternetKey is the asset that stands for the internet: it exposes
// LoadBalancer and NodePort services and ingresses, and connects to pods
// that a network policy opens to 0.0.0.0/0.
const InternetKey = model.InternetKey

// Escape labels set on a workload whose pods can reach their node. Each
// such workload also runs-on the node asset NodeKey(cluster).
const (
	LabelPrivileged  = model.LabelEscapePrivileged // a container runs privileged
	LabelHostPath    = model.LabelEscapeHostPath   // a hostPath volume
	LabelHostNetwork = "escape.host-network"       // hostNetwork: true
	LabelHostPID     = model.LabelEscapeHostPID    // hostPID: true
	LabelHostIPC     = "escape.host-ipc"           // hostIPC: true
	LabelSysAdmin    = model.LabelEscapeSysAdmin   // CAP_SYS_ADMIN without allowPrivilegeEscalation: false
)

// NodeKey is the key of the node any pod of the cluster may run on: the
// manifests do not say which node, so one node asset stands for all.
func NodeKey(cluster string) string { return model.K8sNodeKey(cluster, "any") }

// NamespaceKey is the key of a namespace, a cluster-scoped object.
func NamespaceKey(cluster, ns string) string { return model.K8sNamespaceKey(cluster, ns) }

// ClusterKey is the key of the cluster itself, the target of permissions
// granted by ClusterRoleBindings.
func ClusterKey(cluster string) string { return model.K8sClusterKey(cluster) }

// parser holds the objects of one input until relations can be computed.
type parser struct {
	in                          *ingest.Input
	sink                        ingest.Sink
	cluster, source, clusterKey string

	seenAsset map[string]bool
	seenRel   map[model.Relation]bool

	workloads []*workload
	services  []*service
	ingresses []*ingressObj
	roles     map[string][]policyRule // by roleID
	bindings  []*binding
	policies  []*policy
	secrets   []nsName
	nsLabels  map[string]map[string]string
}

type nsName struct{ ns, name string }

type workload struct {
	key, ns    string
	labels     map[string]string // pod labels
	images     []string
	sa         string
	secretsVol []string
	secretsEnv []string
	cmVol      []string
	cmEnv      []string
	escapes    bool
}

type service struct {
	key, ns  string
	internet bool
	selector map[string]string
}

type ingressObj struct {
	key, ns  string
	backends []string
}

type binding struct {
	ns       string // "" for a ClusterRoleBinding
	ref      roleRef
	subjects []subject
}

type policy struct {
	ns   string
	spec networkPolicySpec
	in   bool // has Ingress type
	out  bool // has Egress type
}

// clusterScoped are the kinds without a namespace.
var clusterScoped = map[string]bool{
	"Namespace": true, "Node": true, "ClusterRole": true, "ClusterRoleBinding": true,
	"PersistentVolume": true, "StorageClass": true, "CustomResourceDefinition": true,
	"PriorityClass": true, "ValidatingWebhookConfiguration": true, "MutatingWebhookConfiguration": true,
	"APIService": true, "IngressClass": true, "RuntimeClass": true,
}

func (p *parser) key(ns, kind, name string) string { return model.K8sKey(p.cluster, ns, kind, name) }

// asset emits an asset once per key.
func (p *parser) asset(a model.Asset) error {
	if p.seenAsset[a.Key] {
		return nil
	}
	p.seenAsset[a.Key] = true
	a.Source = p.source
	return p.sink.Asset(a)
}

// rel emits a relation once.
func (p *parser) rel(from, to string, typ model.RelationType, action string) error {
	r := model.Relation{From: from, To: to, Type: typ, Action: action, Source: p.source}
	if p.seenRel[r] {
		return nil
	}
	p.seenRel[r] = true
	return p.sink.Relation(r)
}

// add records one object.
func (p *parser) add(o *object) error {
	ns := o.Metadata.Namespace
	if ns == "" && !clusterScoped[o.Kind] {
		ns = "default"
	}
	name := o.Metadata.Name
	switch o.Kind {
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob":
		var spec workloadSpec
		if err := o.Spec.decode(&spec); err != nil {
			return err
		}
		tpl := spec.Template
		if o.Kind == "CronJob" {
			tpl = spec.JobTemplate.Spec.Template
		}
		return p.workload(o.Kind, ns, name, tpl.Metadata.Labels, &tpl.Spec)
	case "Pod":
		var spec podSpec
		if err := o.Spec.decode(&spec); err != nil {
			return err
		}
		return p.workload(o.Kind, ns, name, o.Metadata.Labels, &spec)
	case "ServiceAccount":
		return p.asset(model.Asset{Key: p.key(ns, o.Kind, name), Kind: model.KindIdentity, Name: name, Labels: map[string]string{"namespace": ns}})
	case "Secret":
		p.secrets = append(p.secrets, nsName{ns, name})
		labels := map[string]string{"namespace": ns}
		if o.Type != "" {
			labels["secret.type"] = o.Type
		}
		return p.asset(model.Asset{Key: p.key(ns, o.Kind, name), Kind: model.KindSecret, Name: name, Labels: labels})
	case "Service":
		var spec serviceSpec
		if err := o.Spec.decode(&spec); err != nil {
			return err
		}
		typ := spec.Type
		if typ == "" {
			typ = "ClusterIP"
		}
		s := &service{key: p.key(ns, o.Kind, name), ns: ns, selector: spec.Selector, internet: typ == "LoadBalancer" || typ == "NodePort"}
		p.services = append(p.services, s)
		kind := model.KindEndpoint
		if s.internet {
			kind = model.KindLoadBalancer
		}
		return p.asset(model.Asset{Key: s.key, Kind: kind, Name: name, Labels: map[string]string{"namespace": ns, "service.type": typ}})
	case "Ingress":
		var spec ingressSpec
		if err := o.Spec.decode(&spec); err != nil {
			return err
		}
		ing := &ingressObj{key: p.key(ns, o.Kind, name), ns: ns}
		for _, b := range []*backend{spec.DefaultBackend, spec.Backend} {
			if n := b.name(); n != "" {
				ing.backends = append(ing.backends, n)
			}
		}
		for _, r := range spec.Rules {
			if r.HTTP == nil {
				continue
			}
			for _, pa := range r.HTTP.Paths {
				if n := pa.Backend.name(); n != "" && !slices.Contains(ing.backends, n) {
					ing.backends = append(ing.backends, n)
				}
			}
		}
		p.ingresses = append(p.ingresses, ing)
		return p.asset(model.Asset{Key: ing.key, Kind: model.KindLoadBalancer, Name: name, Labels: map[string]string{"namespace": ns}})
	case "Role", "ClusterRole":
		p.roles[roleID(o.Kind, ns, name)] = o.Rules
	case "RoleBinding", "ClusterRoleBinding":
		b := &binding{ref: o.RoleRef, subjects: o.Subjects}
		if o.Kind == "RoleBinding" {
			b.ns = ns
		}
		p.bindings = append(p.bindings, b)
	case "NetworkPolicy":
		pol := &policy{ns: ns}
		if err := o.Spec.decode(&pol.spec); err != nil {
			return err
		}
		pol.in = len(pol.spec.PolicyTypes) == 0 || slices.Contains(pol.spec.PolicyTypes, "Ingress")
		pol.out = slices.Contains(pol.spec.PolicyTypes, "Egress") || (len(pol.spec.PolicyTypes) == 0 && len(pol.spec.Egress) > 0)
		p.policies = append(p.policies, pol)
	case "Namespace":
		p.nsLabels[name] = o.Metadata.Labels
		return p.asset(model.Asset{Key: NamespaceKey(p.cluster, name), Kind: model.KindResource, Name: name, Labels: o.Metadata.Labels})
	}
	return nil
}

func roleID(kind, ns, name string) string {
	if kind == "ClusterRole" {
		ns = ""
	}
	return kind + "/" + ns + "/" + name
}

// workload records a pod-bearing object and emits its asset, labelled
// with its pod labels, its namespace and its escape conditions.
func (p *parser) workload(kind, ns, name string, podLabels map[string]string, spec *podSpec) error {
	w := &workload{key: p.key(ns, kind, name), ns: ns, labels: podLabels}
	labels := maps.Clone(podLabels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels["namespace"] = ns
	w.sa = spec.ServiceAccountName
	if w.sa == "" {
		w.sa = spec.ServiceAccount
	}
	if w.sa == "" {
		w.sa = "default"
	}
	set := func(label string) {
		labels[label] = "true"
		w.escapes = true
	}
	if spec.HostNetwork {
		set(LabelHostNetwork)
	}
	if spec.HostPID {
		set(LabelHostPID)
	}
	if spec.HostIPC {
		set(LabelHostIPC)
	}
	for _, v := range spec.Volumes {
		switch {
		case v.HostPath != nil:
			set(LabelHostPath)
		case v.Secret != nil && v.Secret.SecretName != "":
			w.secretsVol = appendNew(w.secretsVol, v.Secret.SecretName)
		case v.ConfigMap != nil && v.ConfigMap.Name != "":
			w.cmVol = appendNew(w.cmVol, v.ConfigMap.Name)
		case v.Projected != nil:
			for _, src := range v.Projected.Sources {
				if src.Secret != nil && src.Secret.Name != "" {
					w.secretsVol = appendNew(w.secretsVol, src.Secret.Name)
				}
				if src.ConfigMap != nil && src.ConfigMap.Name != "" {
					w.cmVol = appendNew(w.cmVol, src.ConfigMap.Name)
				}
			}
		}
	}
	for _, cs := range [][]container{spec.InitContainers, spec.Containers, spec.EphemeralContainers} {
		for _, c := range cs {
			if c.Image != "" {
				w.images = appendNew(w.images, c.Image)
			}
			for _, e := range c.Env {
				if e.ValueFrom == nil {
					continue
				}
				if r := e.ValueFrom.SecretKeyRef; r != nil && r.Name != "" {
					w.secretsEnv = appendNew(w.secretsEnv, r.Name)
				}
				if r := e.ValueFrom.ConfigMapKeyRef; r != nil && r.Name != "" {
					w.cmEnv = appendNew(w.cmEnv, r.Name)
				}
			}
			for _, e := range c.EnvFrom {
				if e.SecretRef != nil && e.SecretRef.Name != "" {
					w.secretsEnv = appendNew(w.secretsEnv, e.SecretRef.Name)
				}
				if e.ConfigMapRef != nil && e.ConfigMapRef.Name != "" {
					w.cmEnv = appendNew(w.cmEnv, e.ConfigMapRef.Name)
				}
			}
			sc := c.SecurityContext
			if sc == nil {
				continue
			}
			if sc.Privileged != nil && *sc.Privileged {
				set(LabelPrivileged)
			}
			if sc.Capabilities != nil && (sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation) {
				for _, c := range sc.Capabilities.Add {
					switch strings.ToUpper(c) {
					case "SYS_ADMIN", "CAP_SYS_ADMIN", "ALL":
						set(LabelSysAdmin)
					}
				}
			}
		}
	}
	p.workloads = append(p.workloads, w)
	return p.asset(model.Asset{Key: w.key, Kind: model.KindWorkload, Name: name, Labels: labels})
}

func appendNew(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// finish emits the relations, once every object of the input is known.
func (p *parser) finish() error {
	for _, step := range []func() error{p.workloadRelations, p.serviceRelations, p.rbacRelations, p.networkRelations} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) internet() error {
	return p.asset(model.Asset{Key: InternetKey, Kind: model.KindNetwork, Name: "internet"})
}

func (p *parser) workloadRelations() error {
	for _, w := range p.workloads {
		for _, img := range w.images {
			key := model.ImageKey(img)
			if err := p.asset(model.Asset{Key: key, Kind: model.KindImage, Name: img}); err != nil {
				return err
			}
			if err := p.rel(w.key, key, model.RelRuns, ""); err != nil {
				return err
			}
		}
		if err := p.rel(w.key, p.key(w.ns, "ServiceAccount", w.sa), model.RelUsesIdentit, ""); err != nil {
			return err
		}
		for _, refs := range []struct {
			names []string
			kind  string
			typ   model.RelationType
		}{
			{w.secretsVol, "Secret", model.RelMounts},
			{w.secretsEnv, "Secret", model.RelReadsEnv},
			{w.cmVol, "ConfigMap", model.RelMounts},
			{w.cmEnv, "ConfigMap", model.RelReadsEnv},
		} {
			for _, n := range refs.names {
				key := p.key(w.ns, refs.kind, n)
				if refs.kind == "ConfigMap" {
					// ConfigMaps matter only where a workload reads them.
					if err := p.asset(model.Asset{Key: key, Kind: model.KindResource, Name: n, Labels: map[string]string{"namespace": w.ns}}); err != nil {
						return err
					}
				}
				if err := p.rel(w.key, key, refs.typ, ""); err != nil {
					return err
				}
			}
		}
		if w.escapes {
			node := NodeKey(p.cluster)
			if err := p.asset(model.Asset{Key: node, Kind: model.KindNode, Name: "any node"}); err != nil {
				return err
			}
			if err := p.rel(w.key, node, model.RelRunsOn, ""); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *parser) serviceRelations() error {
	for _, s := range p.services {
		if s.internet {
			if err := p.internet(); err != nil {
				return err
			}
			if err := p.rel(InternetKey, s.key, model.RelExposes, ""); err != nil {
				return err
			}
		}
		if len(s.selector) == 0 {
			continue // no selector: endpoints are managed by hand
		}
		sel := labelSelector{MatchLabels: s.selector}
		for _, w := range p.workloads {
			if w.ns == s.ns && sel.matches(w.labels) {
				if err := p.rel(s.key, w.key, model.RelRoutesTo, ""); err != nil {
					return err
				}
			}
		}
	}
	for _, ing := range p.ingresses {
		if err := p.internet(); err != nil {
			return err
		}
		if err := p.rel(InternetKey, ing.key, model.RelExposes, ""); err != nil {
			return err
		}
		for _, b := range ing.backends {
			if err := p.rel(ing.key, p.key(ing.ns, "Service", b), model.RelRoutesTo, ""); err != nil {
				return err
			}
		}
	}
	return nil
}
