package validate

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ctem-dev/ctem/internal/app"
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
	Confirmed  map[string][]string `json:"confirmed"`
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

// ConfirmDAST ties DAST and network-scanner hits to the workloads behind
// the entries they were made against: a hit whose URL (or host:port) is a
// target's address was made through that target's entry asset, so on the
// paths from that asset, an exposure reached over the network that names
// one of the hit's vulnerability ids is confirmed by it (dast-confirmed
// evidence on its findings). A hit at an address no target names
// confirms nothing: a loose URL is not a workload. It contacts nothing,
// replaces the previous run's evidence and re-analyses what changed.
func ConfirmDAST(ctx context.Context, a *app.App, ts []Target) (*DASTOutcome, error) {
	if err := CheckTargets(ts); err != nil {
		return nil, err
	}
	rep, ok := a.Store.(store.EvidenceReplacer)
	if !ok {
		return nil, ErrNoEvidenceStore
	}
	entries := map[string][]string{} // "host:port" -> entry assets
	for _, t := range ts {
		h, p, _ := net.SplitHostPort(t.Address)
		k := strings.ToLower(h) + ":" + p
		if !slices.Contains(entries[k], t.Asset) {
			entries[k] = append(entries[k], t.Asset)
		}
	}
	pl, err := a.Paths(ctx, app.PathQuery{})
	if err != nil {
		return nil, err
	}
	out := &DASTOutcome{Confirmed: map[string][]string{}}
	var findings []string
	var evs []model.Evidence
	changed := map[string]bool{}
	seen := map[string]bool{}
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
		for _, asset := range entries[h+":"+p] {
			for _, id := range EntryExposures(pl.Paths, asset) {
				x, err := a.Store.Exposure(ctx, id)
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
				if shared == "" || slices.Contains(out.Confirmed[x.ID], hit.ID) {
					continue
				}
				out.Confirmed[x.ID] = append(out.Confirmed[x.ID], hit.ID)
				changed[x.Asset] = true
				for _, f := range x.FindingIDs {
					evs = append(evs, model.Evidence{Kind: model.EvidenceDASTConfirmed, Asset: x.Asset, FindingID: f,
						Detail: fmt.Sprintf("%s reports %s at %s, served through %s (exposure %s)", strings.Join(hit.Tools, ", "), shared, hit.Location.URL, asset, hit.ID)})
				}
			}
		}
	}
	for e, err := range a.Store.AllEvidence(ctx) {
		if err != nil {
			return nil, err
		}
		if e.Source == DASTSource && e.Asset != "" {
			changed[e.Asset] = true
		}
	}
	// Every earlier match goes: the hits and targets of this run are the
	// whole truth.
	var all []string
	for e, err := range a.Store.AllEvidence(ctx) {
		if err != nil {
			return nil, err
		}
		if e.Source == DASTSource {
			all = append(all, e.FindingID)
		}
	}
	n, err := rep.ReplaceEvidence(ctx, DASTSource, slices.Concat(findings, all), evs, time.Time{})
	if err != nil {
		return nil, err
	}
	out.Recorded, out.Removed = len(evs), n
	if len(changed) == 0 {
		return out, nil
	}
	assets := make([]string, 0, len(changed))
	for k := range changed {
		assets = append(assets, k)
	}
	slices.Sort(assets)
	out.Reanalysis, err = a.Reanalyze(ctx, assets, "DAST hits tied to their workloads")
	return out, err
}
