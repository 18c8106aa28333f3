package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/intel/score"
	"github.com/ctem-dev/ctem/internal/intel/ssvc"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/server/apitypes"
	"github.com/ctem-dev/ctem/internal/store"
)

// Page sizes of listings.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// Page is a page of a listing: its items (the command line's -o json
// elements) and the cursor of the next page, empty on the last.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, err = w.Write(append(b, '\n'))
	return err
}

// readJSON decodes a request body into v, refusing unknown fields,
// trailing data and anything but application/json.
func readJSON(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return errStatus(http.StatusUnsupportedMediaType, "the body must be application/json, not %q", ct)
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return errStatus(http.StatusBadRequest, "the body is not JSON: %s at byte %d", se.Error(), se.Offset)
		case errors.As(err, &te):
			return &httpError{Status: http.StatusBadRequest, Field: te.Field, Detail: fmt.Sprintf("field %q: want %s", te.Field, te.Type)}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return &httpError{Status: http.StatusBadRequest, Field: f, Detail: fmt.Sprintf("unknown field %q", f)}
		}
		return errStatus(http.StatusBadRequest, "the body is not the JSON expected: %s", safeText(err.Error()))
	}
	if dec.More() {
		return errStatus(http.StatusBadRequest, "the body holds more than one JSON value")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errStatus(http.StatusBadRequest, "the body holds more than one JSON value")
	}
	return nil
}

// listValues returns a query parameter's values, each split at commas.
func listValues(r *http.Request, name string) []string {
	var out []string
	for _, v := range r.URL.Query()[name] {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func pageLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return defaultLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxLimit {
		return 0, badParam("limit", "limit must be a number from 1 to %d", maxLimit)
	}
	return n, nil
}

// filter reads the listing filters the command line takes, with the
// same meaning.
func filter(r *http.Request) (store.Filter, error) {
	var f store.Filter
	var err error
	if f.Severities, err = model.ParseSeverityFilter(strings.Join(listValues(r, "severity"), ",")); err != nil {
		return f, badParam("severity", "%s", safeText(err.Error()))
	}
	for _, s := range listValues(r, "status") {
		st := model.Status(strings.ToLower(s))
		if !st.Valid() {
			return f, badParam("status", "unknown status %q", s)
		}
		f.Statuses = append(f.Statuses, st)
	}
	for _, t := range listValues(r, "tool") {
		f.Tools = append(f.Tools, strings.ToLower(t))
	}
	f.Assets, f.VulnIDs, f.Kinds = listValues(r, "asset"), listValues(r, "cve"), listValues(r, "kind")
	f.ScanID = r.URL.Query().Get("scan")
	switch sort := r.URL.Query().Get("sort"); sort {
	case "", string(store.SortSeverity), string(store.SortID), string(store.SortNewest):
		f.Sort = store.Sort(sort)
	default:
		return f, badParam("sort", "unknown sort %q (want severity, id or newest)", sort)
	}
	if f.Limit, err = pageLimit(r); err != nil {
		return f, err
	}
	f.After = r.URL.Query().Get("cursor")
	return f, nil
}

// cursorErr makes a store's refusal of a cursor a 400 naming the field.
func cursorErr(err error) error {
	if errors.Is(err, store.ErrInvalid) && strings.Contains(err.Error(), "cursor") {
		return badParam("cursor", "%s", safeText(err.Error()))
	}
	return err
}

// page reads one page from seq: up to limit items that keep accepts, and
// the cursor after the last when more follow. With a team's scope the
// store's limit is lifted and the items are filtered here.
func page[T any](seq iter.Seq2[T, error], limit int, keep func(T) bool) (Page[T], error) {
	out := Page[T]{Items: []T{}}
	for v, err := range seq {
		if err != nil {
			return out, cursorErr(err)
		}
		if keep != nil && !keep(v) {
			continue
		}
		if len(out.Items) == limit {
			out.NextCursor = store.Cursor(out.Items[limit-1])
			break
		}
		out.Items = append(out.Items, v)
	}
	return out, nil
}

// teamFilter narrows f to a team's assets: the store filters by the
// team's keys when they are few (and the client named no assets), and
// the page is filtered again here. One more item than the page is read,
// to know whether another page follows.
func teamFilter(f *store.Filter, v scopeOf) {
	f.Limit++
	if v == nil {
		return
	}
	if len(f.Assets) == 0 && len(v) <= 500 {
		f.Assets = make([]string, 0, len(v))
		for k := range v {
			if !strings.HasSuffix(k, "*") {
				f.Assets = append(f.Assets, k)
			}
		}
		if len(f.Assets) == 0 {
			f.Assets = []string{"\x00none"}
		}
		return
	}
	f.Limit = 0
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	draining := s.draining
	s.mu.Unlock()
	if draining {
		return errStatus(http.StatusServiceUnavailable, "shutting down")
	}
	if _, err := s.st.IngestSeq(r.Context()); err != nil {
		return &httpError{Status: http.StatusServiceUnavailable, Detail: "the database does not answer", Cause: err}
	}
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) listFindings(w http.ResponseWriter, r *http.Request) error {
	f, err := filter(r)
	if err != nil {
		return err
	}
	v, err := s.visibleTo(r.Context(), principal(r.Context()))
	if err != nil {
		return err
	}
	limit := f.Limit
	teamFilter(&f, v)
	p, err := page(s.st.Findings(r.Context(), f), limit, func(x model.Finding) bool { return v.asset(x.Asset) })
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

func (s *Server) getFinding(w http.ResponseWriter, r *http.Request) error {
	x, err := s.st.Finding(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := s.mustSee(r, x.Asset, "finding"); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, x)
}

// mustSee answers 404, as for an absent record, when the principal's
// team does not own the asset: a team-scoped client learns nothing of
// other teams' records, not even that they exist.
func (s *Server) mustSee(r *http.Request, asset, what string) error {
	v, err := s.visibleTo(r.Context(), principal(r.Context()))
	if err != nil {
		return err
	}
	if !v.asset(asset) {
		return fmt.Errorf("no %s %q: %w", what, r.PathValue("id"), store.ErrNotFound)
	}
	return nil
}

func (s *Server) listExposures(w http.ResponseWriter, r *http.Request) error {
	f, err := filter(r)
	if err != nil {
		return err
	}
	switch h := r.URL.Query().Get("history"); h {
	case "", "false":
	case "true":
		f.History = true
	default:
		return badParam("history", "history must be true or false")
	}
	v, err := s.visibleTo(r.Context(), principal(r.Context()))
	if err != nil {
		return err
	}
	limit := f.Limit
	teamFilter(&f, v)
	p, err := page(s.st.Exposures(r.Context(), f), limit, func(x model.Exposure) bool { return v.asset(x.Asset) })
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

// exposure reads the exposure the path names, by its exact id, as the
// principal may see it.
func (s *Server) exposure(r *http.Request) (model.Exposure, error) {
	x, err := s.st.Exposure(r.Context(), r.PathValue("id"))
	if err != nil {
		return x, err
	}
	return x, s.mustSee(r, x.Asset, "exposure")
}

func (s *Server) getExposure(w http.ResponseWriter, r *http.Request) error {
	x, err := s.exposure(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, x)
}

// Explanation is the body of an exposure's explanation: the command
// line's explain -o json, with the analysis it reads from.
type Explanation struct {
	Exposure model.Exposure `json:"exposure"`
	score.Assessment
	Priority float64      `json:"priority"`
	Paths    []graph.Path `json:"paths"`
	View     app.View     `json:"view"`
}

func (s *Server) explain(w http.ResponseWriter, r *http.Request) error {
	x, err := s.exposure(r)
	if err != nil {
		return err
	}
	ex, err := s.app.Explain(r.Context(), x.ID, ssvc.Inputs{})
	if err != nil {
		return err
	}
	v, err := s.visibleTo(r.Context(), principal(r.Context()))
	if err != nil {
		return err
	}
	paths := []graph.Path{}
	for _, p := range ex.Paths {
		if v.path(p) {
			paths = append(paths, p)
		}
	}
	return writeJSON(w, http.StatusOK, Explanation{ex.Exposure, ex.Assessment, ex.Priority, paths, ex.View})
}

func (s *Server) history(w http.ResponseWriter, r *http.Request) error {
	x, err := s.exposure(r)
	if err != nil {
		return err
	}
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	p, err := page(s.st.StatusHistory(r.Context(), store.Filter{IDs: []string{x.ID}, After: r.URL.Query().Get("cursor"), Limit: limit + 1}), limit, nil)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

func (s *Server) triage(w http.ResponseWriter, r *http.Request) error {
	// The body's type is generated from api/openapi.yaml. Who decides is
	// the principal, never a field of the body.
	var req apitypes.TriageRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	x, err := s.exposure(r)
	if err != nil {
		return err
	}
	p := principal(r.Context())
	d := store.Decision{ExposureID: x.ID, Status: model.Status(req.Status), Reason: req.Reason, By: p.String(), At: s.now(),
		Approver: deref(req.Approver), Justification: deref(req.Justification)}
	if req.Expires != nil {
		d.Expires = req.Expires.UTC()
	}
	ctx := s.withAudit(r, store.AuditTriage, "triage", func(res any) (string, string) {
		c, _ := res.(store.StatusChange)
		return x.ID, fmt.Sprintf("%s -> %s: %s", c.From, c.To, req.Reason)
	})
	c, err := s.st.Triage(ctx, d)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c)
}

func (s *Server) listAssets(w http.ResponseWriter, r *http.Request) error {
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	es, _, err := s.estateNow(r.Context())
	if err != nil {
		return err
	}
	v, err := s.visibleTo(r.Context(), principal(r.Context()))
	if err != nil {
		return err
	}
	after := ""
	if c := r.URL.Query().Get("cursor"); c != "" {
		if after, err = store.ParseCursor(c, 'a'); err != nil {
			return badParam("cursor", "%s", safeText(err.Error()))
		}
	}
	f := store.Filter{Assets: listValues(r, "asset"), Kinds: listValues(r, "kind")}
	seq := func(yield func(model.Asset, error) bool) {
		for _, a := range es.Sorted() {
			if a.Key > after && f.MatchAsset(a) && !yield(a, nil) {
				return
			}
		}
	}
	p, err := page(seq, limit, func(a model.Asset) bool { return v.asset(a.Key) })
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

// AssetRelation is one relation of an asset, seen from it.
type AssetRelation struct {
	Type    string   `json:"type"`
	Action  string   `json:"action,omitempty"`
	Asset   string   `json:"asset"`
	Sources []string `json:"sources"`
}

// AssetDetail is one asset with its relations and exposures: the command
// line's assets show -o json.
type AssetDetail struct {
	model.Asset
	Outgoing  []AssetRelation  `json:"outgoing"`
	Incoming  []AssetRelation  `json:"incoming"`
	Exposures []model.Exposure `json:"exposures"`
}

func (s *Server) getAsset(w http.ResponseWriter, r *http.Request) error {
	es, _, err := s.estateNow(r.Context())
	if err != nil {
		return err
	}
	key := es.Canonical(r.PathValue("key"))
	a, ok := es.Assets[key]
	if name, blast := strings.CutSuffix(r.PathValue("key"), blastSuffix); !ok && blast {
		// A key with unencoded slashes, then /blast-radius.
		return s.blastRadiusOf(w, r, name)
	}
	v, verr := s.visibleTo(r.Context(), principal(r.Context()))
	if verr != nil {
		return verr
	}
	if !ok || !v.asset(key) {
		return fmt.Errorf("no asset %q: %w", r.PathValue("key"), store.ErrNotFound)
	}
	d := AssetDetail{Asset: *a, Outgoing: []AssetRelation{}, Incoming: []AssetRelation{}, Exposures: []model.Exposure{}}
	for x, err := range s.st.Exposures(r.Context(), store.Filter{Assets: append([]string{a.Key}, a.Aliases...), Limit: maxLimit}) {
		if err != nil {
			return err
		}
		d.Exposures = append(d.Exposures, x)
	}
	out, in := es.Neighbours(key)
	for _, rel := range out {
		d.Outgoing = append(d.Outgoing, AssetRelation{string(rel.Type), rel.Action, rel.To, es.EdgeSources(rel)})
	}
	for _, rel := range in {
		d.Incoming = append(d.Incoming, AssetRelation{string(rel.Type), rel.Action, rel.From, es.EdgeSources(rel)})
	}
	return writeJSON(w, http.StatusOK, d)
}

func (s *Server) listScans(w http.ResponseWriter, r *http.Request) error {
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	var tools []string
	for _, t := range listValues(r, "tool") {
		tools = append(tools, strings.ToLower(t))
	}
	f := store.Filter{Tools: tools, Assets: listValues(r, "asset"), Limit: limit, After: r.URL.Query().Get("cursor")}
	v, err := s.visibleTo(r.Context(), principal(r.Context()))
	if err != nil {
		return err
	}
	teamFilter(&f, v)
	p, err := page(s.st.Scans(r.Context(), f), limit, func(x model.Scan) bool { return v.asset(x.Asset) })
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

func (s *Server) getScan(w http.ResponseWriter, r *http.Request) error {
	x, err := s.st.Scan(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := s.mustSee(r, x.Asset, "scan"); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, x)
}

// PathsBody is the body of a paths reading: the command line's paths -o
// json array as items, with the analysis it reads from.
type PathsBody struct {
	Items []graph.Path `json:"items"`
	View  app.View     `json:"view"`
}

func (s *Server) paths(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	pl, err := s.app.Paths(r.Context(), app.PathQuery{To: q.Get("to"), From: q.Get("from"), Through: q.Get("through")})
	if err != nil {
		return err
	}
	v, err := s.visibleTo(r.Context(), principal(r.Context()))
	if err != nil {
		return err
	}
	// team keeps the paths that reach or cross a team's assets (as that
	// team's own scope sees them), within what the principal may see.
	var tv scopeOf
	if team := q.Get("team"); team != "" {
		if tv, err = s.visibleTo(r.Context(), &Principal{Team: team}); err != nil {
			return err
		}
	}
	out := PathsBody{Items: []graph.Path{}, View: pl.View}
	for _, p := range pl.Paths {
		if v.path(p) && (tv == nil || tv.path(p)) {
			out.Items = append(out.Items, p)
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

// FixPlanBody is the command line's fixplan -o json, with the analysis
// it reads from.
type FixPlanBody struct {
	graph.Plan
	ChokePoints []graph.ChokePoint `json:"choke_points"`
	View        app.View           `json:"view"`
}

func (s *Server) fixPlan(w http.ResponseWriter, r *http.Request) error {
	budget := 0.0
	if b := r.URL.Query().Get("budget"); b != "" {
		var err error
		if budget, err = strconv.ParseFloat(b, 64); err != nil || budget < 0 {
			return badParam("budget", "budget must be a number, 0 or more")
		}
	}
	fp, err := s.app.FixPlan(r.Context(), budget, graph.Options{})
	if err != nil {
		return err
	}
	p := principal(r.Context())
	out := FixPlanBody{Plan: graph.Plan{Risk: fp.Plan.Risk, Items: []graph.PlanItem{}}, ChokePoints: []graph.ChokePoint{}, View: fp.View}
	for _, it := range fp.Plan.Items {
		if p == nil || p.Team == "" || it.Owner == p.Team {
			out.Items = append(out.Items, it)
		}
	}
	for _, c := range fp.ChokePoints {
		if p == nil || p.Team == "" || c.Action.Owner == p.Team {
			out.ChokePoints = append(out.ChokePoints, c)
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

// TopBody is the command line's top -o json as items, with the analysis
// it reads from.
type TopBody struct {
	Items []app.Ranked `json:"items"`
	View  app.View     `json:"view"`
}

func (s *Server) top(w http.ResponseWriter, r *http.Request) error {
	n := 10
	if v := r.URL.Query().Get("n"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > maxLimit {
			return badParam("n", "n must be a number from 1 to %d", maxLimit)
		}
	}
	v, err := s.visibleTo(r.Context(), principal(r.Context()))
	if err != nil {
		return err
	}
	view, seq, err := s.app.Priorities(r.Context(), store.Filter{Statuses: []model.Status{model.StatusOpen}}, graph.Options{})
	if err != nil {
		return err
	}
	out := TopBody{Items: []app.Ranked{}, View: view}
	for x, err := range seq {
		if err != nil {
			return err
		}
		if v.asset(x.Asset) {
			out.Items = append(out.Items, x)
			if len(out.Items) == n {
				break
			}
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) events(w http.ResponseWriter, r *http.Request) error {
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	v, err := s.visibleTo(r.Context(), principal(r.Context()))
	if err != nil {
		return err
	}
	f := store.Filter{Limit: limit + 1, After: r.URL.Query().Get("cursor")}
	var keep func(store.PathEvent) bool
	if v != nil {
		// A team sees the events of the open paths it may see.
		ids := map[string]bool{}
		pl, err := s.app.Paths(r.Context(), app.PathQuery{})
		if err != nil {
			return err
		}
		for _, p := range pl.Paths {
			if v.path(p) {
				ids[p.ID] = true
			}
		}
		keep = func(e store.PathEvent) bool { return ids[e.PathID] }
		f.Limit = 0
	}
	p, err := page(s.st.PathEvents(r.Context(), f), limit, keep)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

// ScopeBody is the scope in force: its version and its file.
type ScopeBody struct {
	store.ScopeVersion
	Data string `json:"data"`
}

func (s *Server) getScope(w http.ResponseWriter, r *http.Request) error {
	v, ok, err := s.st.LatestScope(r.Context())
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("no scope is stored (the default applies): %w", store.ErrNotFound)
	}
	return writeJSON(w, http.StatusOK, ScopeBody{v, string(v.Data)})
}

func (s *Server) setScope(w http.ResponseWriter, r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if !strings.HasPrefix(ct, "application/yaml") && !strings.HasPrefix(ct, "application/x-yaml") && !strings.HasPrefix(ct, "text/yaml") {
		return errStatus(http.StatusUnsupportedMediaType, "the scope must be sent as application/yaml, not %q", ct)
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	name := r.URL.Query().Get("name")
	if name == "" {
		name = "ctem.yaml"
	}
	p := principal(r.Context())
	ctx := s.withAudit(r, store.AuditScope, "scope.set", func(res any) (string, string) {
		v, _ := res.(store.ScopeVersion)
		return fmt.Sprintf("scope version %d", v.Version), fmt.Sprintf("sha256 %s, new true", v.Digest)
	})
	v, changed, err := s.app.SetScope(ctx, app.ScopeFile{Name: name, Data: data})
	if err != nil {
		return err
	}
	if !store.Audited(ctx) {
		// The same scope again: nothing changed, but it was asked.
		s.audit(r, p, "scope.set", fmt.Sprintf("scope version %d", v.Version), "ok", fmt.Sprintf("sha256 %s, new %v", v.Digest, changed))
	}
	status := http.StatusOK
	if changed {
		status = http.StatusCreated
	}
	return writeJSON(w, status, ScopeBody{v, string(v.Data)})
}

func (s *Server) feedsStatus(w http.ResponseWriter, r *http.Request) error {
	if s.feeds == nil {
		return writeJSON(w, http.StatusOK, []any{})
	}
	v, err := s.feeds()
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	ts, err := s.st.ListTokens(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, Page[store.Token]{Items: ts})
}

// CreatedToken is a new token with its secret, shown this once.
type CreatedToken struct {
	store.Token
	Secret string `json:"secret"`
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	var req apitypes.TokenCreateRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	days := 0
	if req.ExpiresInDays != nil {
		days = *req.ExpiresInDays
	}
	if days < 0 || days > 3660 {
		return &httpError{Status: http.StatusBadRequest, Field: "expires_in_days", Detail: "expires_in_days must be from 0 to 3660"}
	}
	p := principal(r.Context())
	ctx := s.withAudit(r, store.AuditToken, "token.create", func(res any) (string, string) {
		t, _ := res.(store.Token)
		return t.ID, fmt.Sprintf("name %q role %s team %q", t.Name, t.Role, t.Team)
	})
	t, secret, err := CreateToken(ctx, s.st, TokenRequest{Name: req.Name, Role: string(req.Role), Team: deref(req.Team), TTL: time.Duration(days) * 24 * time.Hour, CreatedBy: p.String()}, s.now())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, CreatedToken{t, secret})
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	ctx := s.withAudit(r, store.AuditToken, "token.revoke", func(any) (string, string) { return id, "" })
	t, err := s.st.RevokeToken(ctx, id, s.now())
	// Whatever the outcome, the token is read afresh from now on.
	s.tokens.invalidate()
	if err != nil {
		return err
	}
	if !store.Audited(ctx) {
		s.audit(r, principal(r.Context()), "token.revoke", t.ID, "ok", fmt.Sprintf("name %q, revoked already", t.Name))
	}
	return writeJSON(w, http.StatusOK, t)
}

func (s *Server) auditLog(w http.ResponseWriter, r *http.Request) error {
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	var after int64
	if a := r.URL.Query().Get("after"); a != "" {
		if after, err = strconv.ParseInt(a, 10, 64); err != nil || after < 0 {
			return badParam("after", "after must be an entry number")
		}
	}
	out := Page[store.AuditEntry]{Items: []store.AuditEntry{}}
	for e, err := range s.st.AuditLog(r.Context(), after, limit+1) {
		if err != nil {
			return err
		}
		if len(out.Items) == limit {
			out.NextCursor = strconv.FormatInt(out.Items[limit-1].Seq, 10)
			break
		}
		out.Items = append(out.Items, e)
	}
	return writeJSON(w, http.StatusOK, out)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
