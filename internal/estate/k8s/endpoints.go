package k8s

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/ctem-dev/ctem/internal/model"
)

// Where internet-facing services and ingresses answer (model's
// LabelEndpoints) and how an ingress routes (LabelHTTPRoutes): what ctem
// validate probes and what ties a DAST hit at a URL to the workload
// behind it.

// serviceEndpoints returns tcp://ADDRESS:PORT for each address of a
// LoadBalancer service's status and each of its TCP ports.
func serviceEndpoints(o *object, s *service) []string {
	var st lbStatus
	if o.Status.decode(&st) != nil {
		return nil // a status of another shape says nothing of addresses
	}
	var out []string
	for _, a := range st.addresses() {
		if !validHost(a) {
			continue
		}
		for _, sp := range s.Ports {
			if sp.Port > 0 && sp.Port < 65536 && (sp.Protocol == "" || strings.EqualFold(sp.Protocol, "TCP")) {
				out = appendNew(out, "tcp://"+joinHostPort(a, sp.Port))
			}
		}
	}
	return out
}

// ingressRoutes returns an Ingress's routes (the service of each host and
// path, the default backend as any host's "/") and its endpoints:
// https://HOST for the hosts its TLS section names, http://HOST for the
// other rule hosts, and the status's addresses over http (and https when
// the Ingress terminates TLS). Wildcard hosts route but are no endpoint.
func (p *parser) ingressRoutes(o *object, ns string, spec *ingressSpec) ([]model.HTTPRoute, []string) {
	var routes []model.HTTPRoute
	for _, r := range spec.Rules {
		if r.HTTP == nil {
			continue
		}
		for _, pa := range r.HTTP.Paths {
			if n := pa.Backend.name(); n != "" {
				routes = append(routes, model.HTTPRoute{Host: strings.ToLower(r.Host), Path: pa.Path, PathType: pa.PathType, Service: p.key(ns, "Service", n)})
			}
		}
	}
	for _, b := range []*backend{spec.DefaultBackend, spec.Backend} {
		if n := b.name(); n != "" {
			routes = append(routes, model.HTTPRoute{Path: "/", PathType: "Prefix", Service: p.key(ns, "Service", n)})
		}
	}
	var tlsHosts []string
	for _, t := range spec.TLS {
		for _, h := range t.Hosts {
			tlsHosts = appendNew(tlsHosts, strings.ToLower(h))
		}
	}
	var eps []string
	for _, h := range tlsHosts {
		if validHost(h) {
			eps = appendNew(eps, "https://"+h)
		}
	}
	for _, r := range spec.Rules {
		if h := strings.ToLower(r.Host); validHost(h) && !slices.Contains(tlsHosts, h) {
			eps = appendNew(eps, "http://"+h)
		}
	}
	var st lbStatus
	if o.Status.decode(&st) == nil {
		for _, a := range st.addresses() {
			if !validHost(a) {
				continue
			}
			eps = appendNew(eps, "http://"+hostOrIPv6(a))
			if len(spec.TLS) > 0 {
				eps = appendNew(eps, "https://"+hostOrIPv6(a))
			}
		}
	}
	return routes, eps
}

// validHost reports whether h is an IP address or a DNS name (letters,
// digits, hyphens and dots, no wildcard), so that an endpoint built from
// it is one host and nothing else.
func validHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if h == "" || len(h) > 253 || strings.HasPrefix(h, ".") || strings.HasSuffix(h, ".") {
		return false
	}
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func hostOrIPv6(a string) string {
	if ip, err := netip.ParseAddr(a); err == nil && ip.Is6() {
		return "[" + a + "]"
	}
	return a
}

func joinHostPort(a string, port int) string {
	return hostOrIPv6(a) + ":" + strconv.Itoa(port)
}
