package k8s

import (
	"encoding/base64"
	"maps"
	"strconv"

	"github.com/go-json-experiment/json"
	"slices"
	"strings"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/model"
)

// InternetKey is the asset that stands for the internet: it exposes
// LoadBalancer and NodePort services and ingresses, and connects to pods
// that a network policy opens to 0.0.0.0/0.
const InternetKey = model.InternetKey

// Labels set on a workload for what its pods can do to their node. The
// escape.* ones give code execution on it; every workload runs-on its
// node (see model's LabelEscape names for the KubeHound techniques).
const (
	LabelPrivileged  = model.LabelEscapePrivileged // a container runs privileged
	LabelHostPath    = model.LabelEscapeHostPath   // a hostPath that runs code on the node (see hostPathUse)
	LabelHostNetwork = model.LabelHostNetwork      // hostNetwork: true, no escape by itself
	LabelHostPID     = model.LabelEscapeHostPID    // hostPID with a privileged or SYS_PTRACE container
	LabelHostIPC     = model.LabelHostIPC          // hostIPC: true, no escape by itself
	LabelSysAdmin    = model.LabelEscapeSysAdmin   // CAP_SYS_ADMIN (or ALL) without allowPrivilegeEscalation: false
)

// NodeKey is the key of the node any pod of the cluster may run on: the
// manifests do not say which node, so one node asset stands for all.
func NodeKey(cluster string) string { return model.K8sNodeKey(cluster, "any") }

// NamespaceKey is the key of a namespace, a cluster-scoped object.
func NamespaceKey(cluster, ns string) string { return model.K8sNamespaceKey(cluster, ns) }

// ClusterKey is the key of the cluster itself, the target of permissions
// granted by ClusterRoleBindings.
func ClusterKey(cluster string) string { return model.K8sClusterKey(cluster) }

// parser holds the objects of one cluster until relations can be
// computed: those of one input when parsing, those of every input of the
// cluster when joining (see Join).
type parser struct {
	in                          *ingest.Input // nil when joining
	sink                        ingest.Sink
	cluster, source, clusterKey string
	joining                     bool // objects come from stored facts: emit no object assets

	seenAsset map[string]bool
	seenRel   map[model.Relation]bool

	workloads  []*workload
	services   []*service
	ingresses  []*ingressObj
	roles      map[string][]policyRule // by roleID
	bindings   []*binding
	policies   []*policy
	secrets    []*secretObj
	accounts   map[string]*account // by namespace/name
	nsLabels   map[string]map[string]string
	namespaces map[string]bool // every namespace an object is in or names
	awsAuth    []authMapping
	objects    []objectRef            // every object recorded
	children   map[string][]*workload // by controller key: its live objects

	policiesByNS  map[string][]*policy // built by selecting
	workloadsByNS map[string][]*workload
	nsLabelCache  map[string]map[string]string
}

// The objects of a cluster, as the facts (LabelK8sObject) carry them.
// Unexported fields are set from the asset's key and source.

type workload struct {
	key, ns, src string
	asset        *model.Asset      // parsing: emitted by finish, with the labels policies decide
	Labels       map[string]string `json:"l,omitempty"` // pod labels
	Images       []string          `json:"i,omitempty"`
	SA           string            `json:"sa,omitempty"`
	Automount    *bool             `json:"am,omitzero"` // the pod's automountServiceAccountToken
	SecretsVol   []string          `json:"sv,omitempty"`
	SecretsEnv   []string          `json:"se,omitempty"`
	CMVol        []string          `json:"cv,omitempty"`
	CMEnv        []string          `json:"ce,omitempty"`
	Escapes      []string          `json:"x,omitempty"` // escape labels set
	HostNetwork  bool              `json:"hn,omitzero"`
	HostRead     bool              `json:"hr,omitzero"` // a sensitive host folder is readable
	// ProjectedToken: a projected volume mounts a service account token
	// whatever automountServiceAccountToken says.
	ProjectedToken bool            `json:"pt,omitzero"`
	Ports          []containerPort `json:"p,omitempty"`
	Node           string          `json:"n,omitempty"` // spec.nodeName of a live pod
	Owner          string          `json:"o,omitempty"` // Kind/name of a live object's controller
	templated      bool            // a controller whose own live objects are in the estate
}

// containerPort is a port a container listens on.
type containerPort struct {
	Name     string `json:"n,omitempty"`
	Port     int    `json:"p"`
	Protocol string `json:"t,omitempty"`
}

type service struct {
	key, ns, src string
	Internet     bool              `json:"x,omitzero"`
	Selector     map[string]string `json:"s,omitempty"`
	Ports        []servicePort     `json:"p,omitempty"`
}

// servicePort maps a service port to a container port, by number or name.
type servicePort struct {
	Port     int       `json:"p"`
	Target   intOrName `json:"t,omitempty"`
	Protocol string    `json:"n,omitempty"`
}

type ingressObj struct {
	key, ns, src string
	Backends     []string `json:"b,omitempty"`
}

type binding struct {
	ns, src  string    // ns is "" for a ClusterRoleBinding
	Ref      roleRef   `json:"r"`
	Subjects []subject `json:"s,omitempty"`
}

type policy struct {
	ns, src string
	Spec    networkPolicySpec `json:"s"`
	In      bool              `json:"i,omitzero"` // has Ingress type
	Out     bool              `json:"o,omitzero"` // has Egress type
}

type secretObj struct {
	ns, name, src string
	Type          string `json:"t,omitempty"`
	Account       string `json:"a,omitempty"` // kubernetes.io/service-account.name
}

type account struct {
	ns, name, src string
	Automount     *bool             `json:"am,omitzero"`
	Annotations   map[string]string `json:"an,omitempty"` // cloud identity annotations only
}

// objectRef names a recorded object.
type objectRef struct{ key, ns, src string }

// facts is the JSON of the LabelK8sObject label: the one member that
// matches the object's kind.
type facts struct {
	Workload  *workload         `json:"w,omitempty"`
	Service   *service          `json:"s,omitempty"`
	Ingress   *ingressObj       `json:"i,omitempty"`
	Rules     []policyRule      `json:"r,omitempty"`
	Binding   *binding          `json:"b,omitempty"`
	Policy    *policy           `json:"p,omitempty"`
	Secret    *secretObj        `json:"x,omitempty"`
	Account   *account          `json:"a,omitempty"`
	Namespace map[string]string `json:"n,omitempty"`
	Role      bool              `json:"role,omitzero"` // a Role or ClusterRole without rules
	AWSAuth   []authMapping     `json:"aa,omitempty"`
}

func newCluster(cluster, source string, sink ingest.Sink) *parser {
	return &parser{
		sink:       sink,
		cluster:    cluster,
		source:     source,
		clusterKey: model.K8sClusterKey(cluster),
		seenAsset:  map[string]bool{},
		seenRel:    map[model.Relation]bool{},
		roles:      map[string][]policyRule{},
		accounts:   map[string]*account{},
		nsLabels:   map[string]map[string]string{},
		namespaces: map[string]bool{},
	}
}

// clusterScoped are the kinds without a namespace.
var clusterScoped = map[string]bool{
	"Namespace": true, "Node": true, "ClusterRole": true, "ClusterRoleBinding": true,
	"PersistentVolume": true, "StorageClass": true, "CustomResourceDefinition": true,
	"PriorityClass": true, "ValidatingWebhookConfiguration": true, "MutatingWebhookConfiguration": true,
	"APIService": true, "IngressClass": true, "RuntimeClass": true,
}

func (p *parser) key(ns, kind, name string) string { return model.K8sKey(p.cluster, ns, kind, name) }

// asset emits an asset once per key, with source src.
func (p *parser) asset(a model.Asset, src string) error {
	if p.seenAsset[a.Key] {
		return nil
	}
	p.seenAsset[a.Key] = true
	a.Source = src
	return p.sink.Asset(a)
}

// object emits the asset of an object with its facts, unless joining
// (the asset is stored already).
func (p *parser) object(a model.Asset, f *facts) error {
	if p.joining {
		return nil
	}
	b, err := json.Marshal(f, json.Deterministic(true))
	if err != nil {
		return err
	}
	if a.Labels == nil {
		a.Labels = map[string]string{}
	}
	a.Labels[model.LabelK8sObject] = string(b)
	return p.asset(a, p.source)
}

// rel emits a relation once; joining, repeats are left to the estate,
// which merges them anyway.
func (p *parser) rel(src, from, to string, typ model.RelationType, action string) error {
	r := model.Relation{From: from, To: to, Type: typ, Action: action, Source: src}
	if p.joining {
		return p.sink.Relation(r)
	}
	if p.seenRel[r] {
		return nil
	}
	p.seenRel[r] = true
	return p.sink.Relation(r)
}

// namespace notes that namespace ns exists.
func (p *parser) namespace(ns string) {
	if ns != "" {
		p.namespaces[ns] = true
	}
}

// add reads one manifest object into facts and records them.
func (p *parser) add(o *object) error {
	ns := o.Metadata.Namespace
	if ns == "" && !clusterScoped[o.Kind] {
		ns = "default"
	}
	name := o.Metadata.Name
	key := p.key(ns, o.Kind, name)
	nsLabel := map[string]string{}
	if ns != "" {
		nsLabel[model.LabelNamespace] = ns
	}
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
		return p.workloadObject(key, ns, name, tpl.Metadata.Labels, &tpl.Spec, o.Metadata.controller())
	case "Pod":
		var spec podSpec
		if err := o.Spec.decode(&spec); err != nil {
			return err
		}
		return p.workloadObject(key, ns, name, o.Metadata.Labels, &spec, o.Metadata.controller())
	case "ServiceAccount":
		a := &account{Automount: o.AutomountServiceAccountToken}
		for k, v := range o.Metadata.Annotations {
			if cloudIdentityAnnotation(k) {
				if a.Annotations == nil {
					a.Annotations = map[string]string{}
				}
				a.Annotations[k] = v
			}
		}
		f := &facts{Account: a}
		p.record(key, p.source, f)
		return p.object(model.Asset{Key: key, Kind: model.KindIdentity, Name: name, Labels: nsLabel}, f)
	case "Secret":
		f := &facts{Secret: &secretObj{Type: o.Type, Account: o.Metadata.Annotations["kubernetes.io/service-account.name"]}}
		p.record(key, p.source, f)
		if o.Type != "" {
			nsLabel["secret.type"] = o.Type
		}
		if ids := secretKeyIDs(o); len(ids) > 0 {
			nsLabel[model.LabelAWSAccessKeyIDs] = strings.Join(ids, ",")
		}
		return p.object(model.Asset{Key: key, Kind: model.KindSecret, Name: name, Labels: nsLabel}, f)
	case "Service":
		var spec serviceSpec
		if err := o.Spec.decode(&spec); err != nil {
			return err
		}
		typ := spec.Type
		if typ == "" {
			typ = "ClusterIP"
		}
		s := &service{Selector: spec.Selector, Internet: typ == "LoadBalancer" || typ == "NodePort"}
		for _, sp := range spec.Ports {
			t := sp.TargetPort
			if t == "" {
				t = intOrName(strconv.Itoa(sp.Port))
			}
			s.Ports = append(s.Ports, servicePort{Port: sp.Port, Target: t, Protocol: sp.Protocol})
		}
		f := &facts{Service: s}
		p.record(key, p.source, f)
		kind := model.KindEndpoint
		if s.Internet {
			kind = model.KindLoadBalancer
			if eps := serviceEndpoints(o, s); len(eps) > 0 {
				nsLabel[model.LabelEndpoints] = strings.Join(eps, ",")
			}
		}
		nsLabel["service.type"] = typ
		return p.object(model.Asset{Key: key, Kind: kind, Name: name, Labels: nsLabel}, f)
	case "Ingress":
		var spec ingressSpec
		if err := o.Spec.decode(&spec); err != nil {
			return err
		}
		ing := &ingressObj{}
		for _, b := range []*backend{spec.DefaultBackend, spec.Backend} {
			if n := b.name(); n != "" {
				ing.Backends = appendNew(ing.Backends, n)
			}
		}
		for _, r := range spec.Rules {
			if r.HTTP == nil {
				continue
			}
			for _, pa := range r.HTTP.Paths {
				if n := pa.Backend.name(); n != "" {
					ing.Backends = appendNew(ing.Backends, n)
				}
			}
		}
		f := &facts{Ingress: ing}
		p.record(key, p.source, f)
		routes, eps := p.ingressRoutes(o, ns, &spec)
		if len(routes) > 0 {
			b, err := json.Marshal(routes, json.Deterministic(true))
			if err != nil {
				return err
			}
			nsLabel[model.LabelHTTPRoutes] = string(b)
		}
		if len(eps) > 0 {
			nsLabel[model.LabelEndpoints] = strings.Join(eps, ",")
		}
		return p.object(model.Asset{Key: key, Kind: model.KindLoadBalancer, Name: name, Labels: nsLabel}, f)
	case "Role", "ClusterRole":
		f := &facts{Rules: o.Rules, Role: true}
		p.record(key, p.source, f)
		return p.object(model.Asset{Key: key, Kind: model.KindResource, Name: name, Labels: nsLabel}, f)
	case "RoleBinding", "ClusterRoleBinding":
		f := &facts{Binding: &binding{Ref: o.RoleRef, Subjects: o.Subjects}}
		p.record(key, p.source, f)
		return p.object(model.Asset{Key: key, Kind: model.KindResource, Name: name, Labels: nsLabel}, f)
	case "NetworkPolicy":
		pol := &policy{}
		if err := o.Spec.decode(&pol.Spec); err != nil {
			return err
		}
		pol.In = len(pol.Spec.PolicyTypes) == 0 || slices.Contains(pol.Spec.PolicyTypes, "Ingress")
		pol.Out = slices.Contains(pol.Spec.PolicyTypes, "Egress") || (len(pol.Spec.PolicyTypes) == 0 && len(pol.Spec.Egress) > 0)
		f := &facts{Policy: pol}
		p.record(key, p.source, f)
		return p.object(model.Asset{Key: key, Kind: model.KindResource, Name: name, Labels: nsLabel}, f)
	case "Node":
		// A live node: pods that name it run on it.
		return p.asset(model.Asset{Key: model.K8sNodeKey(p.cluster, name), Kind: model.KindNode, Name: name, Labels: maps.Clone(o.Metadata.Labels)}, p.source)
	case "ConfigMap":
		if ns != "kube-system" || name != "aws-auth" {
			return nil // ConfigMaps matter where a workload reads them
		}
		m, err := awsAuth(o)
		if err != nil {
			return err
		}
		f := &facts{AWSAuth: m}
		p.record(key, p.source, f)
		return p.object(model.Asset{Key: key, Kind: model.KindResource, Name: name, Labels: nsLabel}, f)
	case "Namespace":
		f := &facts{Namespace: maps.Clone(o.Metadata.Labels)}
		if f.Namespace == nil {
			f.Namespace = map[string]string{}
		}
		p.record(key, p.source, f)
		return p.object(model.Asset{Key: key, Kind: model.KindResource, Name: name, Labels: maps.Clone(o.Metadata.Labels)}, f)
	}
	return nil
}

// cloudIdentityAnnotation reports whether a ServiceAccount annotation
// binds it to a cloud identity: IRSA (eks.amazonaws.com/role-arn), GKE
// workload identity (iam.gke.io/gcp-service-account), Azure workload
// identity (azure.workload.identity/client-id).
func cloudIdentityAnnotation(k string) bool {
	switch k {
	case "eks.amazonaws.com/role-arn", "iam.gke.io/gcp-service-account", "azure.workload.identity/client-id", "azure.workload.identity/tenant-id":
		return true
	}
	return false
}

// record adds the facts of the object with key to the cluster's objects.
func (p *parser) record(key, src string, f *facts) {
	_, ns, kind, name, ok := model.ParseK8sKey(key)
	if !ok {
		return
	}
	p.namespace(ns)
	p.objects = append(p.objects, objectRef{key, ns, src})
	switch {
	case f.Workload != nil:
		w := f.Workload
		w.key, w.ns, w.src = key, ns, src
		p.workloads = append(p.workloads, w)
	case f.Service != nil:
		s := f.Service
		s.key, s.ns, s.src = key, ns, src
		p.services = append(p.services, s)
	case f.Ingress != nil:
		i := f.Ingress
		i.key, i.ns, i.src = key, ns, src
		p.ingresses = append(p.ingresses, i)
	case f.Role || f.Rules != nil:
		p.roles[roleID(kind, ns, name)] = f.Rules
	case f.Binding != nil:
		b := f.Binding
		b.src = src
		if kind == "RoleBinding" {
			b.ns = ns
		}
		p.bindings = append(p.bindings, b)
	case f.Policy != nil:
		pol := f.Policy
		pol.ns, pol.src = ns, src
		p.policies = append(p.policies, pol)
	case f.Secret != nil:
		sec := f.Secret
		sec.ns, sec.name, sec.src = ns, name, src
		p.secrets = append(p.secrets, sec)
	case f.Account != nil:
		a := f.Account
		a.ns, a.name, a.src = ns, name, src
		p.accounts[ns+"/"+name] = a
	case kind == "Namespace":
		p.nsLabels[name] = f.Namespace
		p.namespace(name)
	case f.AWSAuth != nil:
		for i := range f.AWSAuth {
			f.AWSAuth[i].src = src
		}
		p.awsAuth = append(p.awsAuth, f.AWSAuth...)
	}
}

func roleID(kind, ns, name string) string {
	if kind == "ClusterRole" {
		ns = ""
	}
	return kind + "/" + ns + "/" + name
}

// workloadObject records a pod-bearing object and emits its asset,
// labelled with its pod labels, its namespace and its escape conditions.
func (p *parser) workloadObject(key, ns, name string, podLabels map[string]string, spec *podSpec, owner string) error {
	w := &workload{Labels: podLabels, Automount: spec.AutomountServiceAccountToken, HostNetwork: spec.HostNetwork, Node: spec.NodeName, Owner: owner}
	labels := maps.Clone(podLabels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[model.LabelNamespace] = ns
	w.SA = spec.ServiceAccountName
	if w.SA == "" {
		w.SA = spec.ServiceAccount
	}
	if w.SA == "" {
		w.SA = "default"
	}
	set := func(label string) {
		labels[label] = "true"
		w.Escapes = appendNew(w.Escapes, label)
	}
	if spec.HostNetwork {
		labels[model.LabelHostNetwork] = "true"
	}
	if spec.HostIPC {
		labels[model.LabelHostIPC] = "true"
	}
	if spec.ShareProcessNamespace {
		labels[LabelShareProcessNamespace] = "true"
	}
	// How each volume is mounted: writable when one container mounts it
	// read-write.
	mounted := map[string]bool{} // name → writable
	var privileged, sysAdmin, sysModule, sysPtrace bool
	for _, cs := range [][]container{spec.InitContainers, spec.Containers, spec.EphemeralContainers} {
		for _, c := range cs {
			for _, m := range c.VolumeMounts {
				mounted[m.Name] = mounted[m.Name] || !m.ReadOnly
			}
			if c.Image != "" {
				w.Images = appendNew(w.Images, c.Image)
			}
			for _, cp := range c.Ports {
				if cp.ContainerPort > 0 {
					w.Ports = append(w.Ports, containerPort{Name: cp.Name, Port: cp.ContainerPort, Protocol: cp.Protocol})
				}
			}
			for _, e := range c.Env {
				if e.ValueFrom == nil {
					continue
				}
				if r := e.ValueFrom.SecretKeyRef; r != nil && r.Name != "" {
					w.SecretsEnv = appendNew(w.SecretsEnv, r.Name)
				}
				if r := e.ValueFrom.ConfigMapKeyRef; r != nil && r.Name != "" {
					w.CMEnv = appendNew(w.CMEnv, r.Name)
				}
			}
			for _, e := range c.EnvFrom {
				if e.SecretRef != nil && e.SecretRef.Name != "" {
					w.SecretsEnv = appendNew(w.SecretsEnv, e.SecretRef.Name)
				}
				if e.ConfigMapRef != nil && e.ConfigMapRef.Name != "" {
					w.CMEnv = appendNew(w.CMEnv, e.ConfigMapRef.Name)
				}
			}
			sc := c.SecurityContext
			if sc == nil {
				continue
			}
			if sc.Privileged != nil && *sc.Privileged {
				privileged = true
			}
			if sc.Capabilities != nil && (sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation) {
				for _, c := range sc.Capabilities.Add {
					switch strings.TrimPrefix(strings.ToUpper(c), "CAP_") {
					case "ALL":
						sysAdmin, sysModule, sysPtrace = true, true, true
					case "SYS_ADMIN":
						sysAdmin = true
					case "SYS_MODULE":
						sysModule = true
					case "SYS_PTRACE":
						sysPtrace = true
					}
				}
			}
		}
	}
	if privileged {
		set(LabelPrivileged)
	}
	if spec.HostPID && (privileged || sysPtrace) {
		set(LabelHostPID) // CE_NSENTER, CE_SYS_PTRACE
	}
	if sysAdmin {
		set(LabelSysAdmin)
	}
	if sysModule {
		set(model.LabelEscapeSysModule)
	}
	for _, v := range spec.Volumes {
		switch {
		case v.HostPath != nil:
			writable, ok := mounted[v.Name]
			if !ok {
				continue // a volume no container mounts
			}
			switch hostPathUse(v.HostPath.Path, writable) {
			case hostExec:
				set(LabelHostPath)
			case hostRead:
				w.HostRead = true
				labels[LabelHostRead] = "true"
			}
		case v.Secret != nil && v.Secret.SecretName != "":
			w.SecretsVol = appendNew(w.SecretsVol, v.Secret.SecretName)
		case v.ConfigMap != nil && v.ConfigMap.Name != "":
			w.CMVol = appendNew(w.CMVol, v.ConfigMap.Name)
		case v.Projected != nil:
			for _, src := range v.Projected.Sources {
				if src.Secret != nil && src.Secret.Name != "" {
					w.SecretsVol = appendNew(w.SecretsVol, src.Secret.Name)
				}
				if src.ConfigMap != nil && src.ConfigMap.Name != "" {
					w.CMVol = appendNew(w.CMVol, src.ConfigMap.Name)
				}
				if src.ServiceAccountToken != nil {
					w.ProjectedToken = true
				}
			}
		}
	}
	f := &facts{Workload: w}
	p.record(key, p.source, f)
	w.asset = &model.Asset{Key: key, Kind: model.KindWorkload, Name: name, Labels: labels}
	return nil
}

func appendNew(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// finish emits the relations, once every object of the cluster is known.
func (p *parser) finish() error {
	p.markTemplated()
	for _, step := range []func() error{p.workloadAssets, p.namespaceAssets, p.tokenRelations, p.cloudRelations, p.workloadRelations, p.serviceRelations, p.rbacRelations, p.networkRelations} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// markTemplated finds the controllers (Deployments, ReplicaSets, ...)
// whose own live objects (a ReplicaSet's pods, as kubectl lists them) are
// in the estate: those objects are what runs, so the controller only
// deploys them (see workloadRelations) and has no pods of its own for
// services and network policies.
func (p *parser) markTemplated() {
	byKey := make(map[string]*workload, len(p.workloads))
	for _, w := range p.workloads {
		byKey[w.key] = w
	}
	p.children = map[string][]*workload{}
	for _, w := range p.workloads {
		kind, name, ok := strings.Cut(w.Owner, "/")
		if !ok {
			continue
		}
		if o := byKey[p.key(w.ns, kind, name)]; o != nil && o != w {
			o.templated = true
			p.children[o.key] = append(p.children[o.key], w)
		}
	}
}

// workloadAssets emits the workloads' assets with the label that the
// network policies decide: model.LabelIngressIsolated when no traffic
// from outside the cluster's pods reaches them. Joining, where the
// assets are stored already, it emits that label alone.
func (p *parser) workloadAssets() error {
	for _, w := range p.workloads {
		// A controller whose pods are listed is an API object: nothing
		// on the network reaches it.
		isolated := w.templated || !p.openTo(w, "", false)
		if p.joining {
			if isolated {
				_, _, _, name, _ := model.ParseK8sKey(w.key)
				a := model.Asset{Key: w.key, Kind: model.KindWorkload, Name: name, Labels: map[string]string{model.LabelIngressIsolated: "true"}}
				if err := p.asset(a, w.src); err != nil {
					return err
				}
			}
			continue
		}
		if isolated {
			w.asset.Labels[model.LabelIngressIsolated] = "true"
		}
		if err := p.object(*w.asset, &facts{Workload: w}); err != nil {
			return err
		}
	}
	return nil
}

// namespaceAssets emits a Namespace asset for every namespace an object
// is in, whether or not the input holds the Namespace object, so that
// permissions on a namespace reach the secrets and service accounts in
// it.
//
// The cluster contains each namespace and each namespace the objects in
// it (cluster-scoped objects are in the cluster), so that an input that
// changes only policies or RBAC touches the connected component of the
// workloads they govern.
func (p *parser) namespaceAssets() error {
	for _, ns := range slices.Sorted(maps.Keys(p.namespaces)) {
		key := NamespaceKey(p.cluster, ns)
		if err := p.asset(model.Asset{Key: key, Kind: model.KindResource, Name: ns}, p.source); err != nil {
			return err
		}
		if err := p.rel(p.source, p.clusterKey, key, model.RelContains, ""); err != nil {
			return err
		}
	}
	for _, o := range p.objects {
		parent := p.clusterKey
		if o.ns != "" {
			parent = NamespaceKey(p.cluster, o.ns)
		}
		if parent == o.key {
			continue
		}
		if err := p.rel(o.src, parent, o.key, model.RelContains, ""); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) internet() error {
	return p.asset(model.Asset{Key: InternetKey, Kind: model.KindNetwork, Name: "internet"}, p.source)
}

func (p *parser) workloadRelations() error {
	for _, w := range p.workloads {
		for _, img := range w.Images {
			key := model.ImageKey(img)
			if err := p.asset(model.Asset{Key: key, Kind: model.KindImage, Name: img}, w.src); err != nil {
				return err
			}
			if err := p.rel(w.src, w.key, key, model.RelRuns, ""); err != nil {
				return err
			}
		}
		if p.tokenMounted(w) {
			if err := p.rel(w.src, w.key, p.key(w.ns, "ServiceAccount", w.SA), model.RelUsesIdentit, ""); err != nil {
				return err
			}
		}
		for _, refs := range []struct {
			names []string
			kind  string
			typ   model.RelationType
		}{
			{w.SecretsVol, "Secret", model.RelMounts},
			{w.SecretsEnv, "Secret", model.RelReadsEnv},
			{w.CMVol, "ConfigMap", model.RelMounts},
			{w.CMEnv, "ConfigMap", model.RelReadsEnv},
		} {
			for _, n := range refs.names {
				key := p.key(w.ns, refs.kind, n)
				if refs.kind == "ConfigMap" {
					// ConfigMaps matter only where a workload reads them.
					if err := p.asset(model.Asset{Key: key, Kind: model.KindResource, Name: n, Labels: map[string]string{model.LabelNamespace: w.ns}}, w.src); err != nil {
						return err
					}
				}
				if err := p.rel(w.src, w.key, key, refs.typ, ""); err != nil {
					return err
				}
			}
		}
		if w.templated {
			for _, c := range p.children[w.key] {
				if err := p.rel(w.src, w.key, c.key, model.RelDeploys, ""); err != nil {
					return err
				}
			}
			continue
		}
		// Every pod runs on a node: the one a live pod names, else any.
		node, name := NodeKey(p.cluster), "any node"
		if w.Node != "" {
			node, name = model.K8sNodeKey(p.cluster, w.Node), w.Node
		}
		if err := p.asset(model.Asset{Key: node, Kind: model.KindNode, Name: name}, w.src); err != nil {
			return err
		}
		if err := p.rel(w.src, w.key, node, model.RelRunsOn, ""); err != nil {
			return err
		}
		if w.HostRead {
			if err := p.rel(w.src, w.key, node, model.RelMounts, ""); err != nil {
				return err
			}
		}
	}
	return nil
}

// workloadsIn returns the workloads of namespace ns.
func (p *parser) workloadsIn(ns string) []*workload {
	if p.workloadsByNS == nil {
		p.workloadsByNS = map[string][]*workload{}
		for _, w := range p.workloads {
			p.workloadsByNS[w.ns] = append(p.workloadsByNS[w.ns], w)
		}
	}
	return p.workloadsByNS[ns]
}

// tokenRelations emits secret —grants→ service account for each
// service-account-token Secret (the long-lived tokens of clusters before
// 1.24, and those made by hand): whoever reads it holds the account
// (KubeHound's TOKEN_LIST, TOKEN_STEAL).
func (p *parser) tokenRelations() error {
	for _, s := range p.secrets {
		if s.Type != "kubernetes.io/service-account-token" || s.Account == "" {
			continue
		}
		if err := p.rel(s.src, p.key(s.ns, "Secret", s.name), p.key(s.ns, "ServiceAccount", s.Account), model.RelGrants, ""); err != nil {
			return err
		}
	}
	return nil
}

// tokenMounted reports whether w's pods hold their service account's
// token: the pod's automountServiceAccountToken, else the service
// account's, else true; a projected serviceAccountToken volume mounts
// one whatever they say.
func (p *parser) tokenMounted(w *workload) bool {
	if w.ProjectedToken {
		return true
	}
	if w.Automount != nil {
		return *w.Automount
	}
	if a := p.accounts[w.ns+"/"+w.SA]; a != nil && a.Automount != nil {
		return *a.Automount
	}
	return true
}

func (p *parser) serviceRelations() error {
	for _, s := range p.services {
		if s.Internet {
			if err := p.internet(); err != nil {
				return err
			}
			if err := p.rel(s.src, InternetKey, s.key, model.RelExposes, ""); err != nil {
				return err
			}
		}
		if len(s.Selector) == 0 {
			continue // no selector: endpoints are managed by hand
		}
		sel := labelSelector{MatchLabels: s.Selector}
		for _, w := range p.workloadsIn(s.ns) {
			if !w.templated && sel.matches(w.Labels) && p.serves(s, w) {
				if err := p.rel(s.src, s.key, w.key, model.RelRoutesTo, ""); err != nil {
					return err
				}
			}
		}
	}
	for _, ing := range p.ingresses {
		if err := p.internet(); err != nil {
			return err
		}
		if err := p.rel(ing.src, InternetKey, ing.key, model.RelExposes, ""); err != nil {
			return err
		}
		for _, b := range ing.Backends {
			if err := p.rel(ing.src, ing.key, p.key(ing.ns, "Service", b), model.RelRoutesTo, ""); err != nil {
				return err
			}
		}
	}
	return nil
}

// secretKeyIDs returns the AWS access key ids a Secret's values hold:
// data base64-decoded, stringData as it is. Values that do not decode are
// searched as they are; nothing else of them is kept.
func secretKeyIDs(o *object) []string {
	var ids []string
	add := func(v string) {
		for _, id := range model.AWSAccessKeyIDs(v) {
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	var data, plain map[string]string
	if o.Data.decode(&data) == nil {
		for _, k := range slices.Sorted(maps.Keys(data)) {
			v := data[k]
			if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v)); err == nil {
				v = string(b)
			}
			add(v)
		}
	}
	if o.StringData.decode(&plain) == nil {
		for _, k := range slices.Sorted(maps.Keys(plain)) {
			add(plain[k])
		}
	}
	return ids
}
