package validate

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// EstateTargets returns the targets the estate names: for every asset
// the internet exposes that carries model.LabelEndpoints (Ingress hosts
// and status, LoadBalancer services' status, AWS load balancers' DNS
// names, public IPs and Elastic IPs, inventory endpoints), one target per
// endpoint, with the reason it was found. A bare host is probed on the
// TCP ports of the asset's internet exposure; with none known it gives no
// target. Nothing is resolved or contacted: Probe still dials allowed
// addresses only. Sorted by asset, then address.
func EstateTargets(ctx context.Context, st store.Store) ([]Target, error) {
	ports := map[string][]int{} // asset -> ports the internet reaches
	exposed := map[string]bool{}
	for r, err := range st.Relations(ctx, store.Filter{Assets: []string{model.InternetKey}}) {
		if err != nil {
			return nil, err
		}
		if r.From != model.InternetKey || r.Type != model.RelExposes {
			continue
		}
		exposed[r.To] = true
		if p, ok := tcpPort(r.Action); ok && !slices.Contains(ports[r.To], p) {
			ports[r.To] = append(ports[r.To], p)
		}
	}
	var out []Target
	for a, err := range st.Assets(ctx, store.Filter{}) {
		if err != nil {
			return nil, err
		}
		eps := a.Labels[model.LabelEndpoints]
		if eps == "" || !exposed[a.Key] {
			continue
		}
		for _, ep := range strings.Split(eps, ",") {
			ts, ok := endpointTargets(a, strings.TrimSpace(ep), ports[a.Key])
			if ok {
				out = append(out, ts...)
			}
		}
	}
	slices.SortFunc(out, func(x, y Target) int {
		return strings.Compare(x.Asset+" "+x.Address, y.Asset+" "+y.Address)
	})
	return slices.CompactFunc(out, func(x, y Target) bool { return x.Asset == y.Asset && x.Address == y.Address }), nil
}

// tcpPort reads an exposes action "tcp/N".
func tcpPort(action string) (int, bool) {
	s, ok := strings.CutPrefix(action, "tcp/")
	if !ok {
		return 0, false
	}
	p, err := strconv.Atoi(s)
	return p, err == nil && p > 0 && p < 65536
}

// endpointTargets turns one endpoint of asset a into targets; ok is false
// for one that is malformed or names no port.
func endpointTargets(a model.Asset, ep string, ports []int) ([]Target, bool) {
	what := fmt.Sprintf("%s %s (%s)", a.Kind, a.Key, model.LabelEndpoints)
	if scheme, rest, found := strings.Cut(ep, "://"); found {
		u, err := url.Parse(ep)
		if err != nil || u.Hostname() == "" || strings.ContainsAny(rest, "/?#@") {
			return nil, false
		}
		t := Target{Asset: a.Key, Reason: "endpoint " + ep + " of " + what}
		port := u.Port()
		switch strings.ToLower(scheme) {
		case "https":
			t.TLS, t.HTTP = true, true
			if port == "" {
				port = "443"
			}
		case "http":
			t.HTTP = true
			if port == "" {
				port = "80"
			}
		case "tcp":
			if port == "" {
				return nil, false
			}
		default:
			return nil, false
		}
		t.Address = net.JoinHostPort(u.Hostname(), port)
		return []Target{t}, CheckTargets([]Target{t}) == nil
	}
	if _, err := netip.ParseAddr(ep); err != nil && (ep == "" || strings.ContainsAny(ep, "/:?#@ \t[]")) {
		return nil, false
	}
	var out []Target
	for _, p := range ports {
		t := Target{Asset: a.Key, Address: net.JoinHostPort(ep, strconv.Itoa(p)),
			Reason: fmt.Sprintf("address %s of %s, on port %d the internet exposure names", ep, what, p)}
		if CheckTargets([]Target{t}) == nil {
			out = append(out, t)
		}
	}
	return out, len(out) > 0
}

// MergeTargets returns ts followed by the targets of more whose asset and
// address no earlier target has: the scope's and the command line's
// targets win over the estate's.
func MergeTargets(ts []Target, more []Target) []Target {
	out := slices.Clone(ts)
	for _, m := range more {
		if !slices.ContainsFunc(out, func(t Target) bool { return t.Asset == m.Asset && t.Address == m.Address }) {
			out = append(out, m)
		}
	}
	return out
}
