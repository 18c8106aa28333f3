package k8s

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/ctem-dev/ctem/internal/model"
)

// networkRelations emits source —connects-to→ destination for every pair
// of workloads that the network policies of the input let talk, following
// the NetworkPolicy semantics: a pod that no policy selects for a
// direction allows all traffic in that direction; once selected, only
// what one of the selecting policies' rules admits passes, and a
// connection needs both the source's egress and the destination's
// ingress.
//
// Simplifications, chosen to keep the graph small and the rules sound for
// attack paths:
//
//   - A rule admits a pair when its ports include one the destination
//     declares (a destination that declares none is taken to listen on
//     every number); protocols are not told apart.
//
//   - Pods that no policy restricts, egress for the source and ingress
//     for the destination, reach each other in any namespace through one
//     asset, the cluster network (k8s:cluster//PodGroup/cluster-network,
//     kind network): every such source connects-to it and it routes-to
//     every such destination, 2n edges instead of n². Where a policy
//     restricts one end, the pair is decided by the policies, within the
//     destination's namespace and the namespaces a namespaceSelector of
//     its ingress admits.
//
//   - ipBlock peers never match pods; an ingress ipBlock of 0.0.0.0/0 or
//     ::/0 (exceptions ignored) adds internet —connects-to→ destination.
//
//   - The edge from a Service to its pods is cut by policies that admit
//     no traffic from outside the pods' namespace on the service's target
//     port (see serves); a pod whose policies admit only listed pods is
//     labelled model.LabelIngressIsolated, and the internal-network entry
//     does not reach it.
//
//   - Workloads of one namespace with the same pod labels and ports are
//     one class: policies cannot tell them apart. A class of several
//     workloads (the pods of one ReplicaSet, as kubectl lists them) is
//     reached through one pod-group asset (k8s:cluster/ns/PodGroup/pods-HASH,
//     kind network): each admitted source connects-to the group, which
//     routes-to its members, so that n sources and m members take n+m
//     edges instead of n·m.
//
// The cost is O(C²·P) class pairs for C classes and P policies of a
// namespace, and the edges emitted.
func (p *parser) networkRelations() error {
	classes := p.classes()
	byNS := map[string][]*podClass{}
	for _, c := range classes {
		byNS[c.ns] = append(byNS[c.ns], c)
	}
	if err := p.clusterNetwork(classes); err != nil {
		return err
	}
	egressInto, egressAll := p.egressNamespaces(classes, byNS)
	for _, dst := range classes {
		d := dst.rep()
		ingress := p.selecting(d, true)
		candidates := slices.Clip(byNS[dst.ns])
		internet := false
		seenNS := map[string]bool{dst.ns: true}
		for _, pol := range ingress {
			for _, r := range pol.Spec.Ingress {
				for _, pe := range r.From {
					if pe.IPBlock != nil && (pe.IPBlock.CIDR == "0.0.0.0/0" || pe.IPBlock.CIDR == "::/0") {
						internet = true
					}
					if pe.NamespaceSelector == nil {
						continue
					}
					for _, ns := range slices.Sorted(maps.Keys(byNS)) {
						if !seenNS[ns] && pe.NamespaceSelector.matches(p.namespaceLabels(ns)) {
							seenNS[ns] = true
							candidates = append(candidates, byNS[ns]...)
						}
					}
				}
			}
		}
		// Sources of other namespaces whose egress policies may reach
		// dst's namespace: the pair is decided by their policies (and
		// dst's, if any).
		var added map[*podClass]bool
		for _, list := range [][]*podClass{egressInto[dst.ns], egressAll} {
			for _, src := range list {
				if seenNS[src.ns] || added[src] {
					continue
				}
				if added == nil {
					added = map[*podClass]bool{}
				}
				added[src] = true
				candidates = append(candidates, src)
			}
		}
		if internet {
			if err := p.internet(); err != nil {
				return err
			}
			for _, w := range dst.members {
				if err := p.rel(w.src, InternetKey, w.key, model.RelConnectsTo, ""); err != nil {
					return err
				}
			}
		}
		for _, src := range candidates {
			s := src.rep()
			if len(ingress) == 0 && len(src.egress(p)) == 0 {
				continue // through the cluster network
			}
			if !p.admits(ingress, s, d, true) || !p.admits(src.egress(p), d, d, false) {
				continue
			}
			if err := p.connect(src, dst); err != nil {
				return err
			}
		}
	}
	return nil
}

// egressNamespaces returns, of the classes that egress policies restrict,
// those whose rules may reach pods of another namespace: by namespace
// (a namespaceSelector peer matching it), and those with a rule of no
// peers, which reaches every namespace. A peer of a podSelector alone
// stays in the policy's namespace; ipBlock peers match no pod.
func (p *parser) egressNamespaces(classes []*podClass, byNS map[string][]*podClass) (into map[string][]*podClass, all []*podClass) {
	into = map[string][]*podClass{}
	namespaces := slices.Sorted(maps.Keys(byNS))
	for _, c := range classes {
		out := c.egress(p)
		if len(out) == 0 {
			continue
		}
		every := false
		reach := map[string]bool{}
		for _, pol := range out {
			for _, r := range pol.Spec.Egress {
				if len(r.To) == 0 {
					every = true
				}
				for _, pe := range r.To {
					if pe.NamespaceSelector == nil {
						continue
					}
					for _, ns := range namespaces {
						if ns != c.ns && pe.NamespaceSelector.matches(p.namespaceLabels(ns)) {
							reach[ns] = true
						}
					}
				}
			}
		}
		if every {
			all = append(all, c)
			continue
		}
		for _, ns := range slices.Sorted(maps.Keys(reach)) {
			into[ns] = append(into[ns], c)
		}
	}
	return into, all
}

// ClusterNetworkName is the name of the pod group that stands for the
// cluster's pod network: unrestricted pods connect to it and it routes to
// unrestricted pods.
const ClusterNetworkName = "cluster-network"

// clusterNetwork emits the edges between the pods no policy restricts:
// each egress-unrestricted pod connects-to the cluster network, which
// routes-to each ingress-unrestricted pod.
func (p *parser) clusterNetwork(classes []*podClass) error {
	var srcs, dsts []*workload
	for _, c := range classes {
		if len(c.egress(p)) == 0 {
			srcs = append(srcs, c.members...)
		}
		if len(p.selecting(c.rep(), true)) == 0 {
			dsts = append(dsts, c.members...)
		}
	}
	if len(srcs) == 0 || len(dsts) == 0 || len(srcs) == 1 && len(dsts) == 1 && srcs[0] == dsts[0] {
		return nil
	}
	hub := p.key("", "PodGroup", ClusterNetworkName)
	if err := p.asset(model.Asset{Key: hub, Kind: model.KindNetwork, Name: "the pod network of " + p.cluster}, p.source); err != nil {
		return err
	}
	if err := p.rel(p.source, p.clusterKey, hub, model.RelContains, ""); err != nil {
		return err
	}
	for _, w := range srcs {
		if err := p.rel(w.src, w.key, hub, model.RelConnectsTo, ""); err != nil {
			return err
		}
	}
	for _, w := range dsts {
		if err := p.rel(w.src, hub, w.key, model.RelRoutesTo, ""); err != nil {
			return err
		}
	}
	return nil
}

// podClass is a set of workloads of one namespace with the same pod
// labels and ports.
type podClass struct {
	ns      string
	members []*workload
	out     []*policy
	outDone bool
	group   string // the pod-group asset's key, once emitted
}

func (c *podClass) rep() *workload { return c.members[0] }

func (c *podClass) egress(p *parser) []*policy {
	if !c.outDone {
		c.out, c.outDone = p.selecting(c.rep(), false), true
	}
	return c.out
}

// classes groups the workloads into classes, in the order of their
// first members.
func (p *parser) classes() []*podClass {
	var out []*podClass
	byKey := map[string]*podClass{}
	var b strings.Builder
	for _, w := range p.workloads {
		if w.templated {
			continue // its pods are listed and stand for it
		}
		b.Reset()
		b.WriteString(w.ns)
		for _, k := range slices.Sorted(maps.Keys(w.Labels)) {
			b.WriteString("\x00" + k + "=" + w.Labels[k])
		}
		for _, cp := range w.Ports {
			b.WriteString("\x01" + cp.Name + ":" + strconv.Itoa(cp.Port))
		}
		k := b.String()
		c, ok := byKey[k]
		if !ok {
			c = &podClass{ns: w.ns}
			byKey[k] = c
			out = append(out, c)
		}
		c.members = append(c.members, w)
	}
	return out
}

// connect emits the edges by which every member of src reaches every
// member of dst: directly to a single workload, else through dst's
// pod group.
func (p *parser) connect(src, dst *podClass) error {
	if len(dst.members) == 1 {
		d := dst.members[0]
		for _, s := range src.members {
			if s.key == d.key {
				continue
			}
			if err := p.rel(d.src, s.key, d.key, model.RelConnectsTo, ""); err != nil {
				return err
			}
		}
		return nil
	}
	d := dst.rep()
	if dst.group == "" {
		h := sha256.Sum256([]byte(strings.Join(slices.Sorted(func(yield func(string) bool) {
			for _, w := range dst.members {
				if !yield(w.key) {
					return
				}
			}
		}), "\n")))
		dst.group = p.key(dst.ns, "PodGroup", "pods-"+hex.EncodeToString(h[:5]))
		labels := map[string]string{model.LabelNamespace: dst.ns}
		if err := p.asset(model.Asset{Key: dst.group, Kind: model.KindNetwork, Name: fmt.Sprintf("%d pods like %s", len(dst.members), d.key), Labels: labels}, d.src); err != nil {
			return err
		}
		for _, w := range dst.members {
			if err := p.rel(d.src, dst.group, w.key, model.RelRoutesTo, ""); err != nil {
				return err
			}
		}
	}
	for _, s := range src.members {
		if err := p.rel(d.src, s.key, dst.group, model.RelConnectsTo, ""); err != nil {
			return err
		}
	}
	return nil
}

// selecting returns the policies of w's namespace that select w for
// ingress (in) or egress.
func (p *parser) selecting(w *workload, in bool) []*policy {
	if p.policiesByNS == nil {
		p.policiesByNS = map[string][]*policy{}
		for _, pol := range p.policies {
			p.policiesByNS[pol.ns] = append(p.policiesByNS[pol.ns], pol)
		}
	}
	var out []*policy
	for _, pol := range p.policiesByNS[w.ns] {
		if (in && !pol.In) || (!in && !pol.Out) {
			continue
		}
		if pol.Spec.PodSelector.matches(w.Labels) {
			out = append(out, pol)
		}
	}
	return out
}

// admits reports whether the policies selecting one end let the peer w
// through to dst: true when none selects it, else when a rule of one
// admits w and a port dst listens on.
func (p *parser) admits(pols []*policy, w, dst *workload, in bool) bool {
	if len(pols) == 0 {
		return true
	}
	for _, pol := range pols {
		if in {
			for _, r := range pol.Spec.Ingress {
				if portsAdmit(r.Ports, dst, "") && p.peersAdmit(pol.ns, r.From, w) {
					return true
				}
			}
		} else {
			for _, r := range pol.Spec.Egress {
				if portsAdmit(r.Ports, dst, "") && p.peersAdmit(pol.ns, r.To, w) {
					return true
				}
			}
		}
	}
	return false
}

// peersAdmit reports whether a rule's peers admit w; no peers admit all.
func (p *parser) peersAdmit(policyNS string, peers []peer, w *workload) bool {
	if len(peers) == 0 {
		return true
	}
	for _, pe := range peers {
		switch {
		case pe.IPBlock != nil:
			continue
		case pe.NamespaceSelector != nil:
			if pe.NamespaceSelector.matches(p.namespaceLabels(w.ns)) && (pe.PodSelector == nil || pe.PodSelector.matches(w.Labels)) {
				return true
			}
		case pe.PodSelector != nil:
			if w.ns == policyNS && pe.PodSelector.matches(w.Labels) {
				return true
			}
		}
	}
	return false
}

// namespaceLabels returns the labels of a namespace, with the
// kubernetes.io/metadata.name label the API server sets on every one.
func (p *parser) namespaceLabels(ns string) map[string]string {
	if out, ok := p.nsLabelCache[ns]; ok {
		return out
	}
	out := map[string]string{"kubernetes.io/metadata.name": ns}
	for k, v := range p.nsLabels[ns] {
		out[k] = v
	}
	if p.nsLabelCache == nil {
		p.nsLabelCache = map[string]map[string]string{}
	}
	p.nsLabelCache[ns] = out
	return out
}

// openTo reports whether traffic that no pod of the cluster sends (a host
// of the internal network, a load balancer; with nsPeers, also an ingress
// controller in another namespace) reaches w on port target ("" for any
// port): true when no policy isolates w for ingress, else when a rule
// admitting that port has no from, an ipBlock, or (nsPeers) a
// namespaceSelector.
func (p *parser) openTo(w *workload, target intOrName, nsPeers bool) bool {
	pols := p.selecting(w, true)
	if len(pols) == 0 {
		return true
	}
	for _, pol := range pols {
		for _, r := range pol.Spec.Ingress {
			if !portsAdmit(r.Ports, w, target) {
				continue
			}
			if len(r.From) == 0 {
				return true
			}
			for _, pe := range r.From {
				if pe.IPBlock != nil || nsPeers && pe.NamespaceSelector != nil {
					return true
				}
			}
		}
	}
	return false
}

// serves reports whether service s forwards traffic to w: one of its
// ports targets a port w listens on (by number, or by the name of a
// container port; a workload that declares no ports is taken to listen
// on every number), and w's network policies admit traffic from outside
// its namespace's pods on that port.
func (p *parser) serves(s *service, w *workload) bool {
	if len(s.Ports) == 0 {
		return p.openTo(w, "", true)
	}
	for _, sp := range s.Ports {
		if resolvePort(w, sp.Target) >= 0 && p.openTo(w, sp.Target, true) {
			return true
		}
	}
	return false
}

// resolvePort returns the number of port target on w: the number itself,
// or the named container port's; 0 when w declares no ports (any number
// may be open), -1 when the name or number is not one w listens on.
func resolvePort(w *workload, target intOrName) int {
	n, err := strconv.Atoi(string(target))
	if err == nil {
		if len(w.Ports) == 0 {
			return n
		}
		for _, cp := range w.Ports {
			if cp.Port == n {
				return n
			}
		}
		return -1
	}
	for _, cp := range w.Ports {
		if cp.Name == string(target) {
			return cp.Port
		}
	}
	return -1
}

// portsAdmit reports whether a rule's ports admit traffic to dst on
// target ("" for any port dst listens on). No ports admit every port; a
// port without a number admits every port of its protocol; a numbered
// port (up to endPort) or a named port must be one dst listens on.
func portsAdmit(ports []policyPort, dst *workload, target intOrName) bool {
	if len(ports) == 0 {
		return true
	}
	for _, pp := range ports {
		if pp.Port == "" {
			return true
		}
		lo, err := strconv.Atoi(string(pp.Port))
		if err != nil {
			// A named port: dst must have it, and it must be the target.
			n := resolvePort(dst, pp.Port)
			if n < 0 || (len(dst.Ports) == 0) {
				continue
			}
			if target == "" || resolvePort(dst, target) == n {
				return true
			}
			continue
		}
		hi := max(lo, pp.EndPort)
		if target != "" {
			if t := resolvePort(dst, target); t == 0 || t >= lo && t <= hi {
				return true
			}
			continue
		}
		if len(dst.Ports) == 0 {
			return true
		}
		for _, cp := range dst.Ports {
			if cp.Port >= lo && cp.Port <= hi {
				return true
			}
		}
	}
	return false
}
