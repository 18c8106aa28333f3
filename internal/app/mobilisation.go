package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ctem-dev/ctem/internal/estate/scope"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// ScopeInForce returns the scope every analysis reads now: the App's
// Scope when set, else the latest stored one, else the default. Its SLA,
// acceptance bounds and policies are what mobilisation applies.
func (a *App) ScopeInForce(ctx context.Context) (*scope.Scope, error) {
	in, err := a.loadInputs(ctx)
	if err != nil {
		return nil, err
	}
	return in.scope, nil
}

// AcceptScope selects what an acceptance covers: one exposure
// (ExposureID, exact or a unique prefix), a vulnerability on one asset
// (VulnID and Asset), a vulnerability everywhere (VulnID alone), or an
// open attack path (PathID, exact or a unique prefix): every exposure on
// its steps, and the path itself, even when no exposure enables it (a
// path of relations only).
type AcceptScope struct {
	ExposureID string
	VulnID     string
	Asset      string
	PathID     string
}

// AcceptRequest is a risk acceptance: its scope, why, who decided and
// approved it, and when it ends.
type AcceptRequest struct {
	Scope    AcceptScope
	Reason   string
	By       string
	Approver string
	Expires  time.Time
}

// AcceptResult is what an acceptance changed: the rule recorded and the
// status change of each exposure it covers now.
type AcceptResult struct {
	Rule    store.AcceptanceRule `json:"rule"`
	Changes []store.StatusChange `json:"changes"`
}

// AcceptRisk accepts the open exposures the request's scope covers, each
// with the reason, approver and expiry (store.Triage records the change,
// with who and why, in the exposure's history), and keeps the rule on
// record when the store can (store.Mobilisation). The expiry is required,
// in the future, and no later than the scope file's acceptance.max after
// now; a scope that covers no open exposure, a missing reason, approver
// or expiry, are BadInputErrors and change nothing.
func (a *App) AcceptRisk(ctx context.Context, req AcceptRequest) (*AcceptResult, error) {
	now := a.now()
	sc, err := a.ScopeInForce(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case req.Reason == "" || req.By == "" || req.Approver == "":
		return nil, badInput(errors.New("an acceptance needs a reason, who decides (--by) and an approver"))
	case req.Expires.IsZero():
		return nil, badInput(errors.New("an acceptance needs an expiry"))
	case !req.Expires.After(now):
		return nil, badInput(fmt.Errorf("expiry %s is not in the future", req.Expires.Format(time.RFC3339)))
	case sc.Acceptance.Max > 0 && req.Expires.After(now.Add(time.Duration(sc.Acceptance.Max))):
		return nil, badInput(fmt.Errorf("expiry %s is beyond the scope's maximum of %s (acceptance.max in %s): no later than %s",
			req.Expires.Format(time.DateOnly), sc.Acceptance.Max, sc.FileName(), now.Add(time.Duration(sc.Acceptance.Max)).Format(time.DateOnly)))
	}
	f := store.Filter{Statuses: []model.Status{model.StatusOpen}, Sort: store.SortID}
	s := req.Scope
	var ids []string
	switch {
	case s.PathID != "" && s.ExposureID == "" && s.VulnID == "" && s.Asset == "":
		p, err := a.FindPath(ctx, s.PathID)
		if err != nil {
			return nil, err
		}
		s.PathID = p.ID
		if ids, err = a.openOn(ctx, pathExposures(p)); err != nil {
			return nil, err
		}
		slices.Sort(ids)
	case s.PathID != "":
		return nil, badInput(errors.New("accept a path alone: no exposure, --cve or --asset with --path"))
	case s.ExposureID != "" && s.VulnID == "" && s.Asset == "":
		f.IDs = []string{s.ExposureID}
	case s.ExposureID == "" && s.VulnID != "":
		f.VulnIDs = []string{s.VulnID}
		if s.Asset != "" {
			f.Assets = []string{s.Asset}
		}
	default:
		return nil, badInput(errors.New("accept one exposure by id, a vulnerability (--cve) on one asset (--asset) or everywhere, or a path (--path)"))
	}
	if s.PathID == "" {
		for x, err := range a.Store.Exposures(ctx, f) {
			if err != nil {
				return nil, err
			}
			ids = append(ids, x.ID)
		}
	}
	switch {
	case s.PathID != "":
		// A path is accepted with the exposures still open on it, or
		// alone when none is.
	case len(ids) == 0:
		return nil, badInput(fmt.Errorf("no open exposure matches %s", describeScope(s)))
	case s.ExposureID != "" && len(ids) > 1:
		return nil, badInput(fmt.Errorf("%q names %d exposures; give more of the id", s.ExposureID, len(ids)))
	}
	if s.ExposureID != "" {
		s.ExposureID = ids[0]
	}
	rule := store.AcceptanceRule{ExposureID: s.ExposureID, VulnID: s.VulnID, Asset: s.Asset, PathID: s.PathID, Reason: req.Reason, By: req.By,
		Approver: req.Approver, Expires: req.Expires.UTC(), At: now}
	rule.ID = digest([]byte(fmt.Sprintf("%s\x00%s\x00%s\x00%s\x00%d", rule.ExposureID, rule.VulnID, rule.Asset, rule.PathID, now.UnixNano())))[:16]
	res := &AcceptResult{Rule: rule}
	for _, id := range ids {
		c, err := a.Store.Triage(ctx, store.Decision{ExposureID: id, Status: model.StatusAccepted, Reason: req.Reason, By: req.By,
			Approver: req.Approver, Expires: req.Expires.UTC(), At: now})
		if err != nil {
			return res, err
		}
		res.Changes = append(res.Changes, c)
	}
	if m, ok := a.Store.(store.Mobilisation); ok {
		if err := m.AddAcceptanceRule(ctx, rule); err != nil {
			return res, err
		}
	}
	return res, nil
}

func describeScope(s AcceptScope) string {
	switch {
	case s.ExposureID != "":
		return "exposure " + s.ExposureID
	case s.PathID != "":
		return "path " + s.PathID
	case s.Asset != "":
		return s.VulnID + " on " + s.Asset
	}
	return s.VulnID + " anywhere"
}

// ApplyAcceptanceRules accepts the open exposures that an unexpired
// acceptance rule covers but that came after it (a rescan that finds the
// accepted vulnerability on another image), with the rule's reason,
// approver and expiry, and returns the changes; likewise an open
// exposure that joined a path accepted as a whole. It does nothing when
// the store keeps no rules.
func (a *App) ApplyAcceptanceRules(ctx context.Context) ([]store.StatusChange, error) {
	m, ok := a.Store.(store.Mobilisation)
	if !ok {
		return nil, nil
	}
	now := a.now()
	var rules, pathRules []store.AcceptanceRule
	for r, err := range m.AcceptanceRules(ctx) {
		if err != nil {
			return nil, err
		}
		switch {
		case !r.Expires.After(now):
		case r.VulnID != "":
			rules = append(rules, r)
		case r.PathID != "":
			pathRules = append(pathRules, r)
		}
	}
	var out []store.StatusChange
	for _, r := range rules {
		f := store.Filter{Statuses: []model.Status{model.StatusOpen}, VulnIDs: []string{r.VulnID}, Sort: store.SortID}
		if r.Asset != "" {
			f.Assets = []string{r.Asset}
		}
		var ids []string
		for x, err := range a.Store.Exposures(ctx, f) {
			if err != nil {
				return out, err
			}
			ids = append(ids, x.ID)
		}
		for _, id := range ids {
			c, err := a.Store.Triage(ctx, store.Decision{ExposureID: id, Status: model.StatusAccepted,
				Reason: r.Reason + " (acceptance rule " + r.ID + ")", By: r.By, Approver: r.Approver, Expires: r.Expires, At: now})
			if err != nil {
				return out, err
			}
			out = append(out, c)
		}
	}
	more, err := a.applyPathRules(ctx, pathRules)
	return append(out, more...), err
}

// ExpireAcceptances reopens every exposure whose acceptance has expired
// by the App's clock, recording why (an event in each exposure's
// history), and returns the changes.
func (a *App) ExpireAcceptances(ctx context.Context) ([]store.StatusChange, error) {
	return a.Store.ExpireAcceptances(ctx, a.now())
}

// MarkFalsePositive records that an exposure is a false positive. The
// exposure's id is the fingerprint of the weakness on its asset, so a
// rescan that reports it again finds the decision and keeps it (see
// store.Triage). id is exact or a unique prefix.
func (a *App) MarkFalsePositive(ctx context.Context, id, reason, by string) (store.StatusChange, error) {
	var ids []string
	for x, err := range a.Store.Exposures(ctx, store.Filter{IDs: []string{id}, Sort: store.SortID, Limit: 2}) {
		if err != nil {
			return store.StatusChange{}, err
		}
		ids = append(ids, x.ID)
	}
	switch {
	case len(ids) == 0:
		return store.StatusChange{}, fmt.Errorf("no exposure %q (see 'ctem exposures'): %w", id, ErrNotFound)
	case len(ids) > 1:
		return store.StatusChange{}, badInput(fmt.Errorf("%q names more than one exposure; give more of the id", id))
	}
	c, err := a.Store.Triage(ctx, store.Decision{ExposureID: ids[0], Status: model.StatusFalsePositive, Reason: reason, By: by, At: a.now()})
	if errors.Is(err, store.ErrInvalid) {
		return c, badInput(err)
	}
	return c, err
}

// MarkAccepted marks in pl.Names the exposures on its paths that are
// accepted: their name gains " (accepted)". An accepted exposure stays on
// its paths (the analysis counts it: accepting a risk does not remove the
// step) but leaves the priority list; listings show it marked. The paths
// accepted as a whole go in pl.Accepted.
func (a *App) MarkAccepted(ctx context.Context, pl *PathList) error {
	aps, err := a.AcceptedPaths(ctx)
	if err != nil {
		return err
	}
	for _, p := range pl.Paths {
		if r, ok := aps[p.ID]; ok {
			if pl.Accepted == nil {
				pl.Accepted = map[string]string{}
			}
			pl.Accepted[p.ID] = r.ID
		}
	}
	var ids []string
	for _, p := range pl.Paths {
		for _, s := range p.Steps {
			ids = append(ids, s.ExposureIDs...)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	xs, err := a.exposuresByID(ctx, ids, store.Filter{Statuses: []model.Status{model.StatusAccepted}})
	if err != nil {
		return err
	}
	if pl.Names == nil {
		pl.Names = map[string]string{}
	}
	for id, x := range xs {
		n, ok := pl.Names[id]
		if !ok {
			n = WeaknessName(x)
		}
		if !strings.HasSuffix(n, " (accepted)") {
			pl.Names[id] = n + " (accepted)"
		}
	}
	return nil
}
