package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/estate/scope"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/server/apitypes"
	"github.com/ctem-dev/ctem/internal/store"
)

// validationRoutes are the routes of the validation stage: blast radius,
// what-if, a path's evidence and the listing of evidence. All are reads:
// a what-if computes in memory and changes nothing stored, so it is
// ActRead although it is a POST (its body is a query too long and too
// structured for a URL), and it is not audited.
func (s *Server) validationRoutes() []route {
	return []route{
		{Name: "blast-radius", Method: "GET", Pattern: "/api/v1/assets/{key}/blast-radius", Action: ActRead, H: s.blastRadius},
		{Name: "whatif", Method: "POST", Pattern: "/api/v1/whatif", Action: ActRead, H: s.whatIf},
		{Name: "path.evidence", Method: "GET", Pattern: "/api/v1/paths/{id}/evidence", Action: ActRead, Params: []string{"max_age"}, H: s.pathEvidence},
		{Name: "evidence", Method: "GET", Pattern: "/api/v1/evidence", Action: ActRead, Params: []string{"kind", "source", "asset", "max_age", "limit", "cursor"}, H: s.listEvidence},
	}
}

// maxHeavy is how many in-memory analyses (blast radius, what-if) a
// server runs at once: each is a whole analysis (a what-if two), seconds
// of CPU on a large estate, and any reader may ask for one.
const maxHeavy = 2

// heavyGate bounds the in-memory analyses in flight; its zero value is
// ready to use.
type heavyGate struct {
	once sync.Once
	ch   chan struct{}
}

// enter waits for a place, or for ctx to end, and returns the function
// that gives the place back.
func (g *heavyGate) enter(ctx context.Context) (func(), error) {
	g.once.Do(func() { g.ch = make(chan struct{}, maxHeavy) })
	select {
	case g.ch <- struct{}{}:
		return func() { <-g.ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// maxAge reads the max_age parameter, a duration (30d, 2w, 36h); 0 when
// absent.
func maxAge(r *http.Request) (time.Duration, error) {
	v := r.URL.Query().Get("max_age")
	if v == "" {
		return 0, nil
	}
	d, err := scope.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, badParam("max_age", "max_age must be a positive duration (30d, 2w, 36h)")
	}
	return time.Duration(d), nil
}

// blastRadius assumes the asset compromised (app.BlastRadius). A
// team-scoped principal may ask about its team's assets only; any other
// key is 404, as for an absent asset. The paths all start from that
// asset, so the team sees them whole, as it sees the paths that cross
// its assets.
func (s *Server) blastRadius(w http.ResponseWriter, r *http.Request) error {
	return s.blastRadiusOf(w, r, r.PathValue("key"))
}

// blastSuffix ends the path of an asset's blast radius.
const blastSuffix = "/blast-radius"

// blastRadiusOf answers the blast radius of the asset named name: for
// the route, and for GET /api/v1/assets/KEY/blast-radius with the key's
// slashes not encoded, which the asset route receives (see getAsset).
func (s *Server) blastRadiusOf(w http.ResponseWriter, r *http.Request, name string) error {
	es, _, err := s.estateNow(r.Context())
	if err != nil {
		return err
	}
	key := es.Canonical(name)
	v, err := s.visibleTo(r.Context(), principal(r.Context()))
	if err != nil {
		return err
	}
	if _, ok := es.Assets[key]; !ok || !v.asset(key) {
		return fmt.Errorf("no asset %q: %w", name, store.ErrNotFound)
	}
	leave, err := s.heavy.enter(r.Context())
	if err != nil {
		return err
	}
	defer leave()
	br, err := s.app.BlastRadius(r.Context(), key, graph.Options{})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, br)
}

// Bounds of a what-if's request.
const maxWhatIfChanges = 100

// whatIf runs app.WhatIf. A team-scoped principal may take only the
// actions of its team's fix plan and choke points, and remove or add
// only relations with an end on its team's assets (the other may be the
// internet); anything else is 404, as for an absent action. Its outcome
// counts the paths it may see only.
func (s *Server) whatIf(w http.ResponseWriter, r *http.Request) error {
	var req apitypes.WhatIfRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	q := app.WhatIfQuery{Fixes: deref2(req.Fix)}
	for i, rel := range deref2(req.Remove) {
		m, err := relation(rel, fmt.Sprintf("remove[%d]", i))
		if err != nil {
			return err
		}
		q.Remove = append(q.Remove, m)
	}
	for i, rel := range deref2(req.Add) {
		m, err := relation(rel, fmt.Sprintf("add[%d]", i))
		if err != nil {
			return err
		}
		q.Add = append(q.Add, m)
	}
	if n := len(q.Fixes) + len(q.Remove) + len(q.Add); n == 0 || n > maxWhatIfChanges {
		return errStatus(http.StatusBadRequest, "name from 1 to %d changes: actions to take (fix), relations to remove or to add", maxWhatIfChanges)
	}
	p := principal(r.Context())
	v, err := s.visibleTo(r.Context(), p)
	if err != nil {
		return err
	}
	if v != nil {
		if err := s.teamMayChange(r, p, v, q); err != nil {
			return err
		}
		q.Keep = v.path
	}
	leave, err := s.heavy.enter(r.Context())
	if err != nil {
		return err
	}
	defer leave()
	out, err := s.app.WhatIf(r.Context(), q)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

// teamMayChange checks a team's what-if: each action is one its team
// owns in the fix plan or a choke point, and each relation has an end on
// its assets.
func (s *Server) teamMayChange(r *http.Request, p *Principal, v scopeOf, q app.WhatIfQuery) error {
	if len(q.Fixes) > 0 {
		fp, err := s.app.FixPlan(r.Context(), 0, graph.Options{})
		if err != nil {
			return err
		}
		mine := map[string]bool{}
		for _, it := range fp.Plan.Items {
			if it.Owner == p.Team {
				mine[it.Key] = true
			}
		}
		for _, c := range fp.ChokePoints {
			if c.Action.Owner == p.Team {
				mine[c.Action.Key] = true
			}
		}
		for _, k := range q.Fixes {
			if !mine[k] {
				return fmt.Errorf("no action %q in your team's fix plan: %w", k, store.ErrNotFound)
			}
		}
	}
	if len(q.Remove)+len(q.Add) == 0 {
		return nil
	}
	es, _, err := s.estateNow(r.Context())
	if err != nil {
		return err
	}
	for _, rel := range append(append([]model.Relation{}, q.Remove...), q.Add...) {
		from, to := es.Canonical(rel.From), es.Canonical(rel.To)
		if !v.asset(from) && !v.asset(to) {
			return fmt.Errorf("no relation %s %s %s on your team's assets: %w", rel.From, rel.Type, rel.To, store.ErrNotFound)
		}
	}
	return nil
}

// relation reads a relation of a what-if's body; field names it in an
// error.
func relation(rel apitypes.WhatIfRelation, field string) (model.Relation, error) {
	m := model.Relation{From: strings.TrimSpace(rel.From), Type: model.RelationType(strings.TrimSpace(rel.Type)), To: strings.TrimSpace(rel.To), Action: strings.TrimSpace(deref(rel.Action))}
	if m.From == "" || m.Type == "" || m.To == "" {
		return m, &httpError{Status: http.StatusBadRequest, Field: field, Detail: field + ": a relation needs from, type and to"}
	}
	return m, nil
}

func deref2[T any](p *[]T) []T {
	if p == nil {
		return nil
	}
	return *p
}

// pathEvidence reads an open path's validation (app.PathEvidence). A
// team-scoped principal reads the paths it may see only, and the facts
// about its team's exposures only.
func (s *Server) pathEvidence(w http.ResponseWriter, r *http.Request) error {
	age, err := maxAge(r)
	if err != nil {
		return err
	}
	v, err := s.visibleTo(r.Context(), principal(r.Context()))
	if err != nil {
		return err
	}
	q := app.PathEvidenceQuery{ID: r.PathValue("id"), MaxAge: age}
	if v != nil {
		q.See, q.SeeAsset = v.path, v.asset
	}
	pe, err := s.app.PathEvidence(r.Context(), q)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, pe)
}

// listEvidence lists the stored facts of evidence (app.Evidence), by
// key, with the filters kind, source and asset. A team-scoped principal
// lists the facts about its team's assets only.
func (s *Server) listEvidence(w http.ResponseWriter, r *http.Request) error {
	age, err := maxAge(r)
	if err != nil {
		return err
	}
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	q := app.EvidenceListQuery{MaxAge: age, EvidenceQuery: store.EvidenceQuery{
		Kinds: listValues(r, "kind"), Sources: listValues(r, "source"), Assets: listValues(r, "asset"), Limit: limit}}
	if c := r.URL.Query().Get("cursor"); c != "" {
		if q.After, err = store.ParseEvidenceCursor(c); err != nil {
			return badParam("cursor", "%s", safeText(err.Error()))
		}
	}
	v, err := s.visibleTo(r.Context(), principal(r.Context()))
	if err != nil {
		return err
	}
	if v != nil {
		q.Keep = func(e model.Evidence) bool { return v.asset(e.Asset) }
		if len(q.Assets) == 0 && len(v) <= 500 {
			for k := range v {
				q.Assets = append(q.Assets, k)
			}
			if len(q.Assets) == 0 {
				q.Assets = []string{"\x00none"}
			}
		}
	}
	pg, err := s.app.Evidence(r.Context(), q)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, pg)
}
