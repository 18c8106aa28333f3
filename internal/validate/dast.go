package validate

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// DASTSource names the evidence ConfirmDAST records; each run replaces
// the previous one's.
const DASTSource = "ctem-dast-match"

// DASTOutcome is what ConfirmDAST did.
type DASTOutcome struct {
	// Confirmed maps a path exposure's id to the DAST exposures that
	// confirm it.
	Confirmed map[string][]string `json:"confirmed"`
	// Workloads maps a confirmed exposure to the assets of the steps the
	// hits confirmed it on: the workloads that serve the URL.
	Workloads map[string][]string `json:"workloads"`
	// Loose lists the hits tied to no workload, and why.
	Loose      []LooseHit          `json:"loose,omitempty"`
	Recorded   int                 `json:"recorded"`
	Removed    int                 `json:"removed"`
	Reanalysis *app.AnalysisResult `json:"-"`
}

// hostPort returns the lower-cased host and the port a DAST finding's
// location names: a URL (the scheme's default port when none is given)
// or host:port.
func hostPort(loc string) (string, string, bool) {
	if strings.Contains(loc, "://") {
		u, err := url.Parse(loc)
		if err != nil || u.Hostname() == "" {
			return "", "", false
		}
		port := u.Port()
		if port == "" {
			switch strings.ToLower(u.Scheme) {
			case "https":
				port = "443"
			case "http":
				port = "80"
			default:
				return "", "", false
			}
		}
		return strings.ToLower(u.Hostname()), port, true
	}
	h, p, err := net.SplitHostPort(loc)
	if err != nil || h == "" {
		return "", "", false
	}
	return strings.ToLower(h), p, true
}

// entry is an asset that answers at an address: a target's, or the
// estate's (model.LabelEndpoints), with the routes of an Ingress.
type entry struct {
	asset  string
	routes []model.HTTPRoute
}

// LooseHit is a DAST hit that no workload of the estate could be tied to,
// and why: it stays a fact about a URL.
type LooseHit struct {
	Exposure string `json:"exposure"`
	URL      string `json:"url"`
	Reason   string `json:"reason"`
}

// ConfirmDAST ties DAST and network-scanner hits to the workloads that
// serve the URL they were made at. A hit's host and port are those of
// an entry: a target's address, or an endpoint the estate names for an
// internet-exposed asset (an Ingress's hosts, a load balancer's address).
// When the entry is an Ingress, its rule for the hit's host and path (the
// most specific: an exact path, else the longest prefix, a named host
// before a wildcard before any host) names the Service, and the Service
// the workloads it routes to; only steps on those workloads are
// confirmed. Otherwise every step reached over the network from the entry
// is a candidate. On the paths from the entry, a candidate step's
// exposure that names one of the hit's vulnerability ids is confirmed
// (dast-confirmed evidence on its findings). A hit no entry answers for,
// or that no rule routes, confirms nothing and is listed as loose, with
// the reason. It contacts nothing, replaces the previous run's evidence
// and re-analyses what changed.
func ConfirmDAST(ctx context.Context, a *app.App, ts []Target) (*DASTOutcome, error) {
	if err := CheckTargets(ts); err != nil {
		return nil, err
	}
	rep, ok := a.Store.(store.EvidenceReplacer)
	if !ok {
		return nil, ErrNoEvidenceStore
	}
	est, err := EstateTargets(ctx, a.Store)
	if err != nil {
		return nil, err
	}
	entries := map[string][]entry{} // "host:port" -> entries
	for _, t := range MergeTargets(ts, est) {
		h, p, _ := net.SplitHostPort(t.Address)
		k := strings.ToLower(h) + ":" + p
		if slices.ContainsFunc(entries[k], func(e entry) bool { return e.asset == t.Asset }) {
			continue
		}
		e := entry{asset: t.Asset}
		if as, err := a.Store.Asset(ctx, t.Asset); err == nil {
			if raw := as.Labels[model.LabelHTTPRoutes]; raw != "" && json.Unmarshal([]byte(raw), &e.routes) != nil {
				e.routes = nil
			}
		}
		entries[k] = append(entries[k], e)
	}
	pl, err := a.Paths(ctx, app.PathQuery{})
	if err != nil {
		return nil, err
	}
	out := &DASTOutcome{Confirmed: map[string][]string{}, Workloads: map[string][]string{}}
	var findings []string
	var evs []model.Evidence
	changed := map[string]bool{}
	seen, done := map[string]bool{}, map[string]bool{}
	served := map[string][]string{} // service -> workloads it routes to
	for hit, err := range a.Store.Exposures(ctx, store.Filter{Statuses: []model.Status{model.StatusOpen},
		Kinds: []string{string(model.FindingDAST), string(model.FindingNetwork)}}) {
		if err != nil {
			return nil, err
		}
		if len(hit.VulnIDs) == 0 {
			continue
		}
		h, p, ok := hostPort(hit.Location.URL)
		if !ok {
			continue
		}
		es := entries[h+":"+p]
		if len(es) == 0 {
			out.Loose = append(out.Loose, LooseHit{Exposure: hit.ID, URL: hit.Location.URL,
				Reason: "nothing the estate or the targets name answers at " + net.JoinHostPort(h, p) + ": a loose URL, tied to no workload"})
			continue
		}
		path := urlPath(hit.Location.URL)
		for _, e := range es {
			var on []string // the workloads the hit reached; nil: any step from the entry
			via := e.asset
			if len(e.routes) > 0 {
				r, ok := matchRoute(e.routes, h, path)
				if !ok {
					out.Loose = append(out.Loose, LooseHit{Exposure: hit.ID, URL: hit.Location.URL,
						Reason: fmt.Sprintf("%s has no rule for host %s and path %s: tied to no workload", e.asset, h, path)})
					continue
				}
				ws, ok := served[r.Service]
				if !ok {
					if ws, err = routesTo(ctx, a.Store, r.Service); err != nil {
						return nil, err
					}
					served[r.Service] = ws
				}
				on, via = slices.Concat(ws, []string{r.Service}), fmt.Sprintf("%s (rule %s%s to %s)", e.asset, r.Host, r.Path, r.Service)
			}
			for _, c := range entrySteps(pl.Paths, e.asset) {
				if on != nil && !slices.Contains(on, c.asset) {
					continue
				}
				x, err := a.Store.Exposure(ctx, c.exposure)
				if err != nil {
					return nil, err
				}
				if !seen[x.ID] {
					seen[x.ID] = true
					findings = append(findings, x.FindingIDs...)
				}
				shared := ""
				for _, v := range hit.VulnIDs {
					if slices.Contains(x.VulnIDs, v) {
						shared = v
						break
					}
				}
				if shared == "" {
					continue
				}
				if !slices.Contains(out.Workloads[x.ID], c.asset) {
					out.Workloads[x.ID] = append(out.Workloads[x.ID], c.asset)
				}
				if !slices.Contains(out.Confirmed[x.ID], hit.ID) {
					out.Confirmed[x.ID] = append(out.Confirmed[x.ID], hit.ID)
				}
				key := x.ID + " " + c.asset
				if done[key] {
					continue
				}
				done[key] = true
				changed[x.Asset], changed[c.asset] = true, true
				// The evidence names the workload that served the hit:
				// it counts there only, not on every workload of the
				// image.
				for _, f := range x.FindingIDs {
					evs = append(evs, model.Evidence{Kind: model.EvidenceDASTConfirmed, Asset: c.asset, FindingID: f,
						Detail: fmt.Sprintf("%s reports %s at %s, served through %s by %s (exposure %s)", strings.Join(hit.Tools, ", "), shared, hit.Location.URL, via, c.asset, hit.ID)})
				}
			}
		}
	}
	// Every earlier match goes: the hits and targets of this run are the
	// whole truth.
	out.Recorded = len(evs)
	out.Removed, out.Reanalysis, err = replaceSource(ctx, a, rep, DASTSource, findings, evs, changed, true, "DAST hits tied to their workloads")
	return out, err
}

// stepOn is an exposure on a step and the asset the step starts from
// (network access to it: the workload that serves the request).
type stepOn struct{ exposure, asset string }

// entrySteps returns, as EntryExposures does, the exposures of the steps
// taken from network states on the paths from network access to asset,
// each with the asset its step starts from.
func entrySteps(paths []graph.Path, asset string) []stepOn {
	var out []stepOn
	for _, p := range paths {
		if p.Entry != "network:"+asset {
			continue
		}
		for _, s := range p.Steps {
			if !strings.HasPrefix(s.From, "network:") {
				break
			}
			src := strings.TrimPrefix(s.From, "network:")
			for _, id := range s.ExposureIDs {
				if c := (stepOn{id, src}); !slices.Contains(out, c) {
					out = append(out, c)
				}
			}
		}
	}
	return out
}

// routesTo returns the assets service routes to.
func routesTo(ctx context.Context, st store.Store, service string) ([]string, error) {
	var out []string
	for r, err := range st.Relations(ctx, store.Filter{Assets: []string{service}}) {
		if err != nil {
			return nil, err
		}
		if r.From == service && r.Type == model.RelRoutesTo && !slices.Contains(out, r.To) {
			out = append(out, r.To)
		}
	}
	slices.Sort(out)
	return out, nil
}

// urlPath returns the path of a URL, "/" when it has none.
func urlPath(loc string) string {
	u, err := url.Parse(loc)
	if err != nil || u.Path == "" {
		return "/"
	}
	return u.Path
}

// matchRoute returns the Ingress rule that serves host and path, as
// Kubernetes chooses it: rules of the exact host before wildcard hosts
// ("*.example.com" matches one label) before rules of any host; among
// them an Exact path before the longest Prefix (matched element by
// element: /api matches /api and /api/orders, not /apis).
func matchRoute(routes []model.HTTPRoute, host, path string) (model.HTTPRoute, bool) {
	best, bestScore := model.HTTPRoute{}, -1
	for _, r := range routes {
		hs := 0
		switch {
		case r.Host == "":
			hs = 1
		case strings.EqualFold(r.Host, host):
			hs = 3
		case strings.HasPrefix(r.Host, "*.") && strings.Count(host, ".") == strings.Count(r.Host, ".") && strings.HasSuffix(strings.ToLower(host), strings.ToLower(r.Host[1:])):
			hs = 2
		default:
			continue
		}
		rp := r.Path
		if rp == "" {
			rp = "/"
		}
		ps := -1
		if r.PathType == "Exact" {
			if path == rp {
				ps = 1 << 20
			}
		} else if prefixMatch(rp, path) {
			ps = len(strings.TrimSuffix(rp, "/"))
		}
		if ps < 0 {
			continue
		}
		if score := hs<<21 | ps; score > bestScore {
			best, bestScore = r, score
		}
	}
	return best, bestScore >= 0
}

// prefixMatch reports whether path is under prefix element by element.
func prefixMatch(prefix, path string) bool {
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix == "" {
		return true
	}
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}
