package k8s

import (
	"slices"

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
//   - Ports and protocols are ignored: a rule admitting any port admits
//     the pair.
//   - Unrestricted reach (no policy, an empty from, an empty podSelector)
//     is emitted within the destination's namespace only; edges across
//     namespaces are emitted only where a namespaceSelector admits them.
//     Analysis should treat a namespace without policies as reachable from
//     the cluster network.
//   - ipBlock peers never match pods; an ingress ipBlock of 0.0.0.0/0 or
//     ::/0 (exceptions ignored) adds internet —connects-to→ destination.
//   - The edge from a Service or Ingress to its pods is not cut by
//     policies.
//
// The cost is O(W²·P) for W workloads and P policies of the input.
func (p *parser) networkRelations() error {
	byNS := map[string][]*workload{}
	for _, w := range p.workloads {
		byNS[w.ns] = append(byNS[w.ns], w)
	}
	for _, dst := range p.workloads {
		ingress := p.selecting(dst, true)
		candidates := slices.Clip(byNS[dst.ns])
		internet := false
		for _, pol := range ingress {
			for _, r := range pol.Spec.Ingress {
				for _, pe := range r.From {
					if pe.IPBlock != nil && (pe.IPBlock.CIDR == "0.0.0.0/0" || pe.IPBlock.CIDR == "::/0") {
						internet = true
					}
					if pe.NamespaceSelector == nil {
						continue
					}
					for ns, ws := range byNS {
						if ns != dst.ns && pe.NamespaceSelector.matches(p.namespaceLabels(ns)) {
							candidates = append(candidates, ws...)
						}
					}
				}
			}
		}
		if internet {
			if err := p.internet(); err != nil {
				return err
			}
			if err := p.rel(dst.src, InternetKey, dst.key, model.RelConnectsTo, ""); err != nil {
				return err
			}
		}
		for _, src := range candidates {
			if src == dst || src.key == dst.key {
				continue
			}
			if !p.admits(ingress, src, true) || !p.admits(p.selecting(src, false), dst, false) {
				continue
			}
			if err := p.rel(dst.src, src.key, dst.key, model.RelConnectsTo, ""); err != nil {
				return err
			}
		}
	}
	return nil
}

// selecting returns the policies of w's namespace that select w for
// ingress (in) or egress.
func (p *parser) selecting(w *workload, in bool) []*policy {
	var out []*policy
	for _, pol := range p.policies {
		if pol.ns != w.ns || (in && !pol.In) || (!in && !pol.Out) {
			continue
		}
		if pol.Spec.PodSelector.matches(w.Labels) {
			out = append(out, pol)
		}
	}
	return out
}

// admits reports whether the policies selecting one end let the peer w
// through: true when none selects it, else when a rule of one admits w.
func (p *parser) admits(pols []*policy, w *workload, in bool) bool {
	if len(pols) == 0 {
		return true
	}
	for _, pol := range pols {
		if in {
			for _, r := range pol.Spec.Ingress {
				if p.peersAdmit(pol.ns, r.From, w) {
					return true
				}
			}
		} else {
			for _, r := range pol.Spec.Egress {
				if p.peersAdmit(pol.ns, r.To, w) {
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
	out := map[string]string{"kubernetes.io/metadata.name": ns}
	for k, v := range p.nsLabels[ns] {
		out[k] = v
	}
	return out
}
