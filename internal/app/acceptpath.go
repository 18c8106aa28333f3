package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// FindPath returns the open attack path whose stable id is id or starts
// with it. No path is an ErrNotFound; a prefix that names several is a
// BadInputError.
func (a *App) FindPath(ctx context.Context, id string) (graph.Path, error) {
	if id == "" {
		return graph.Path{}, badInput(errors.New("no path id"))
	}
	pl, err := a.Paths(ctx, PathQuery{})
	if err != nil {
		return graph.Path{}, err
	}
	var found []graph.Path
	for _, p := range pl.Paths {
		if p.ID == id {
			return p, nil
		}
		if strings.HasPrefix(p.ID, id) {
			found = append(found, p)
		}
	}
	switch len(found) {
	case 0:
		return graph.Path{}, fmt.Errorf("no open attack path %q (see 'ctem paths'): %w", id, ErrNotFound)
	case 1:
		return found[0], nil
	}
	return graph.Path{}, badInput(fmt.Errorf("%q names %d paths; give more of the id", id, len(found)))
}

// pathExposures returns the ids of the exposures that enable a path's
// steps.
func pathExposures(p graph.Path) []string {
	var ids []string
	for _, s := range p.Steps {
		ids = append(ids, s.ExposureIDs...)
	}
	return ids
}

// openOn returns the ids of the open exposures among ids.
func (a *App) openOn(ctx context.Context, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	xs, err := a.exposuresByID(ctx, ids, store.Filter{Statuses: []model.Status{model.StatusOpen}})
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(xs))
	for id := range xs {
		out = append(out, id)
	}
	return out, nil
}

// AcceptedPaths returns the unexpired acceptance rules of whole attack
// paths by path id (the newest rule of each path), or nothing when the
// store keeps no rules. Notifications and listings treat those paths as
// accepted: known, decided, and not news.
func (a *App) AcceptedPaths(ctx context.Context) (map[string]store.AcceptanceRule, error) {
	out := map[string]store.AcceptanceRule{}
	m, ok := a.Store.(store.Mobilisation)
	if !ok {
		return out, nil
	}
	now := a.now()
	for r, err := range m.AcceptanceRules(ctx) {
		if err != nil {
			return nil, err
		}
		if r.PathID != "" && r.Expires.After(now) {
			out[r.PathID] = r
		}
	}
	return out, nil
}

// applyPathRules accepts the open exposures on the open paths of the
// unexpired path rules: an exposure that joined an accepted path after
// the acceptance (the same path, a new finding on one of its steps).
func (a *App) applyPathRules(ctx context.Context, rules []store.AcceptanceRule) ([]store.StatusChange, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	pl, err := a.Paths(ctx, PathQuery{})
	if err != nil {
		return nil, err
	}
	byID := map[string]graph.Path{}
	for _, p := range pl.Paths {
		byID[p.ID] = p
	}
	var out []store.StatusChange
	for _, r := range rules {
		p, ok := byID[r.PathID]
		if !ok {
			continue
		}
		ids, err := a.openOn(ctx, pathExposures(p))
		if err != nil {
			return out, err
		}
		for _, id := range ids {
			c, err := a.Store.Triage(ctx, store.Decision{ExposureID: id, Status: model.StatusAccepted,
				Reason: r.Reason + " (acceptance of path " + r.PathID + ", rule " + r.ID + ")", By: r.By, Approver: r.Approver, Expires: r.Expires, At: a.now()})
			if err != nil {
				return out, err
			}
			out = append(out, c)
		}
	}
	return out, nil
}
