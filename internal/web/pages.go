package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/intel/feeds"
	"github.com/ctem-dev/ctem/internal/kpi"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/server"
	"github.com/ctem-dev/ctem/internal/store"
)

func (h *Handler) routes() {
	h.mux.HandleFunc("GET /signin", h.signInPage)
	h.mux.HandleFunc("POST /signin", h.signIn)
	h.handle("POST /signout", h.signOut)
	h.handle("GET /{$}", h.overview)
	h.handle("GET /paths", h.paths)
	h.handle("GET /paths/{id}", h.path)
	h.handle("GET /fixplan", h.fixPlan)
	h.handle("GET /exposures", h.exposures)
	h.handle("GET /exposures/{id}", h.exposure)
	h.handle("POST /exposures/{id}/triage", h.triage)
	h.handle("GET /assets", h.assets)
	h.handle("GET /assets/{key...}", h.asset)
	h.handle("GET /scans", h.scans)
	h.handle(uploadRoute, h.upload)
	h.handle("GET /jobs/{id}", h.job)
	h.handle("GET /audit", h.audit)
	h.handle("GET /blast-radius", h.blastRadius)
	h.handle("GET /evidence", h.evidence)
	h.handle("GET /kpis", h.kpis)
	h.handle("/", func(w http.ResponseWriter, r *http.Request) error {
		return &apiError{Status: http.StatusNotFound, Detail: "there is no such page"}
	})
}

// --- sign in and out

type signInData struct {
	Next  string
	Name  string
	Error string
	// SSO is the link to sign in through the identity provider, when one
	// is configured.
	SSO string
}

// safeNext keeps a post-sign-in destination on this site: a path, never
// a URL of another origin (//host or a scheme).
func safeNext(s string) string {
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.HasPrefix(s, "/\\") || strings.ContainsAny(s, "\r\n") {
		return "/"
	}
	return s
}

func (h *Handler) signInPage(w http.ResponseWriter, r *http.Request) {
	if _, err := r.Cookie(preCookie); err != nil {
		v := make([]byte, 24)
		_, _ = io.ReadFull(randReader, v)
		c := &http.Cookie{Name: preCookie, Value: b64(v), Path: "/", HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, MaxAge: 3600}
		http.SetCookie(w, c)
		r.AddCookie(c)
	}
	d := signInData{Next: safeNext(r.URL.Query().Get("next"))}
	if h.oidc {
		d.SSO = "/api/v1/oidc/login?next=" + url.QueryEscape(d.Next)
	}
	h.render(w, r, http.StatusOK, "signin", "Sign in", "", d)
}

func (h *Handler) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	d := signInData{Next: safeNext(r.FormValue("next")), Name: r.FormValue("name")}
	if h.oidc {
		d.SSO = "/api/v1/oidc/login?next=" + url.QueryEscape(d.Next)
	}
	if !csrfOK(r) {
		d.Error = "The form expired; please sign in again."
		h.render(w, r, http.StatusForbidden, "signin", "Sign in", "", d)
		return
	}
	body, _ := json.Marshal(server.SignInRequest{Name: r.FormValue("name"), Password: r.FormValue("password")})
	hd, err := h.call(r, "POST", "/api/v1/session", nil, "application/json", strings.NewReader(string(body)), nil)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) && (ae.Status == http.StatusUnauthorized || ae.Status == http.StatusTooManyRequests || ae.Status == http.StatusBadRequest) {
			d.Error = ae.Detail
			h.render(w, r, ae.Status, "signin", "Sign in", "", d)
			return
		}
		h.fail(w, r, err)
		return
	}
	for _, c := range hd.Values("Set-Cookie") {
		w.Header().Add("Set-Cookie", c)
	}
	http.SetCookie(w, &http.Cookie{Name: preCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, d.Next, http.StatusSeeOther)
}

func (h *Handler) signOut(w http.ResponseWriter, r *http.Request) error {
	hd, err := h.call(r, "DELETE", "/api/v1/session", nil, "", nil, nil)
	if err != nil {
		return err
	}
	for _, c := range hd.Values("Set-Cookie") {
		w.Header().Add("Set-Cookie", c)
	}
	http.Redirect(w, r, "/signin?done=signed-out", http.StatusSeeOther)
	return nil
}

// --- overview

type overviewData struct {
	KPI kpi.Report
	// Pending is true while the KPIs are first computed (minutes on a
	// database of a million findings): the page shows the rest and
	// refreshes.
	Pending    bool
	OpenChart  chart
	PathsChart chart
	Jewels     []jewelRow
	Events     []store.PathEvent
	Feeds      []feeds.FeedStatus
	Paths      int
	Validated  int
	// SLA is the SLA adherence by owner; SLAPending is true when it took
	// longer than the page waits.
	SLA        server.SLAOwners
	SLAPending bool
}

type jewelRow struct {
	Jewel   string
	OpenNow int
	Spark   chart
}

func (h *Handler) overview(w http.ResponseWriter, r *http.Request) error {
	var d overviewData
	kctx, cancel := context.WithTimeout(r.Context(), kpiPatience)
	err := h.get(r.WithContext(kctx), "/api/v1/kpis", url.Values{"since": {"90d"}}, &d.KPI)
	cancel()
	switch {
	case err != nil && kctx.Err() != nil && r.Context().Err() == nil:
		d.Pending = true
	case err != nil:
		return err
	}
	var open, paths []point
	for _, p := range d.KPI.Periods {
		open = append(open, point{p.Start.Format("01-02"), float64(p.Open)})
		paths = append(paths, point{p.Start.Format("01-02"), float64(p.OpenPaths)})
	}
	d.OpenChart = lineChart(open, 480, 140)
	d.PathsChart = lineChart(paths, 480, 140)
	for _, j := range d.KPI.Jewels {
		var pts []point
		for i, n := range j.Open {
			pts = append(pts, point{fmt.Sprint(i), float64(n)})
		}
		d.Jewels = append(d.Jewels, jewelRow{Jewel: j.Jewel, OpenNow: j.OpenNow, Spark: sparkline(pts, 120, 24)})
	}
	var ev server.Page[store.PathEvent]
	if err := h.get(r, "/api/v1/events", url.Values{"limit": {"10"}}, &ev); err != nil {
		return err
	}
	d.Events = ev.Items
	_ = h.get(r, "/api/v1/feeds", nil, &d.Feeds)
	var pb server.PathsBody
	if err := h.get(r, "/api/v1/paths", nil, &pb); err != nil {
		return err
	}
	d.Paths = len(pb.Items)
	for _, p := range pb.Items {
		if p.Validated {
			d.Validated++
		}
	}
	sctx, cancel := context.WithTimeout(r.Context(), kpiPatience)
	err = h.get(r.WithContext(sctx), "/api/v1/sla/owners", url.Values{"due_within": {"7d"}}, &d.SLA)
	cancel()
	switch {
	case err != nil && sctx.Err() != nil && r.Context().Err() == nil:
		d.SLAPending = true
	case err != nil:
		return err
	}
	h.render(w, r, http.StatusOK, "overview", "Overview", "overview", d)
	return nil
}

// kpiPatience is how long the overview waits for the KPIs before it
// shows the rest and says they are being computed.
const kpiPatience = 3 * time.Second

// --- attack paths

type pathsData struct {
	Jewel, Entry, Team string
	Paths              []pathRow
	Jewels, Entries    []string
}

type pathRow struct {
	graph.Path
	Jewel string
	Entry string
}

func stateAsset(state string) string {
	if _, a, ok := strings.Cut(state, ":"); ok {
		return a
	}
	return state
}

func (h *Handler) paths(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	d := pathsData{Jewel: q.Get("jewel"), Entry: q.Get("entry"), Team: q.Get("team")}
	var all server.PathsBody
	if err := h.get(r, "/api/v1/paths", nil, &all); err != nil {
		return err
	}
	for _, p := range all.Items {
		if j := stateAsset(p.Target); !slices.Contains(d.Jewels, j) {
			d.Jewels = append(d.Jewels, j)
		}
		if !slices.Contains(d.Entries, p.Entry) {
			d.Entries = append(d.Entries, p.Entry)
		}
	}
	slices.Sort(d.Jewels)
	slices.Sort(d.Entries)
	aq := url.Values{}
	for k, v := range map[string]string{"to": d.Jewel, "from": d.Entry, "team": d.Team} {
		if v != "" {
			aq.Set(k, v)
		}
	}
	var pb server.PathsBody
	if err := h.get(r, "/api/v1/paths", aq, &pb); err != nil {
		return err
	}
	for _, p := range pb.Items {
		d.Paths = append(d.Paths, pathRow{Path: p, Jewel: stateAsset(p.Target), Entry: p.Entry})
	}
	h.render(w, r, http.StatusOK, "paths", "Attack paths", "paths", d)
	return nil
}

type pathData struct {
	Path   pathRow
	Graph  pathGraph
	Steps  []stepRow
	Chokes []graph.ChokePoint
	// ValidatedBy are the kinds of evidence that validate a validated
	// path's steps.
	ValidatedBy []string
}

type stepRow struct {
	N int
	graph.Step
	Choke bool
	// Kinds are the kinds of evidence that validate the step, Facts the
	// stored facts about its exposures (GET /api/v1/paths/{id}/evidence).
	Kinds []string
	Facts []app.Fact
}

func (h *Handler) path(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	var pb server.PathsBody
	if err := h.get(r, "/api/v1/paths", nil, &pb); err != nil {
		return err
	}
	i := slices.IndexFunc(pb.Items, func(p graph.Path) bool { return p.ID == id })
	if i < 0 {
		return &apiError{Status: http.StatusNotFound, Detail: "no open attack path has this id"}
	}
	p := pb.Items[i]
	var fp server.FixPlanBody
	if err := h.get(r, "/api/v1/fixplan", nil, &fp); err != nil {
		return err
	}
	chokes := map[string]bool{}
	d := pathData{Path: pathRow{Path: p, Jewel: stateAsset(p.Target), Entry: p.Entry}}
	for _, c := range fp.ChokePoints {
		used := false
		for _, s := range c.Steps {
			for _, st := range p.Steps {
				if s == st.From+" -> "+st.To {
					chokes[s], used = true, true
				}
			}
		}
		if used {
			d.Chokes = append(d.Chokes, c)
		}
	}
	var pe app.PathEvidence
	if err := h.get(r, "/api/v1/paths/"+url.PathEscape(id)+"/evidence", nil, &pe); err != nil {
		return err
	}
	d.ValidatedBy = pe.ValidatedBy
	for n, s := range p.Steps {
		row := stepRow{N: n + 1, Step: s, Choke: chokes[s.From+" -> "+s.To]}
		if n < len(pe.Steps) && pe.Steps[n].From == s.From && pe.Steps[n].To == s.To {
			row.Validated, row.Kinds, row.Facts = pe.Steps[n].Validated, pe.Steps[n].Kinds, pe.Steps[n].Facts
		}
		d.Steps = append(d.Steps, row)
	}
	d.Graph = layoutPath(p, chokes)
	h.render(w, r, http.StatusOK, "path", "Attack path", "paths", d)
	return nil
}

// --- fix plan

type fixPlanData struct {
	Plan  server.FixPlanBody
	Curve chart
	// WhatIf is the what-if of the action the form names (the plan's
	// first by default), when asked; Action is its key.
	WhatIf *app.WhatIf
	Action string
}

func (h *Handler) fixPlan(w http.ResponseWriter, r *http.Request) error {
	var d fixPlanData
	if err := h.get(r, "/api/v1/fixplan", nil, &d.Plan); err != nil {
		return err
	}
	pts := []point{{"0", d.Plan.Risk}}
	for _, it := range d.Plan.Items {
		pts = append(pts, point{num1(it.CumulativeEffort), it.Remaining})
	}
	d.Curve = lineChart(pts, 560, 180)
	if err := h.whatIf(r, &d); err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "fixplan", "Fix plan", "fixplan", d)
	return nil
}

func num1(f float64) string { return fmt.Sprintf("%.1f", f) }

// --- exposures

// exposureFilters are the listing's filters, as the command line and the
// API name them; every one lives in the URL.
var exposureFilters = []string{"severity", "status", "tool", "asset", "cve", "kind", "scan", "sort", "history", "limit", "cursor"}

type exposuresData struct {
	Q     map[string]string
	Items []model.Exposure
	// Next and First link to the next page and, on a later page, the
	// first, with the same filters.
	Next, First string
	Sorts       []string
}

func (h *Handler) exposures(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	d := exposuresData{Q: map[string]string{}, Sorts: []string{"severity", "id", "newest"}}
	aq := url.Values{}
	for _, k := range exposureFilters {
		if v := strings.TrimSpace(q.Get(k)); v != "" {
			aq.Set(k, v)
			d.Q[k] = v
		}
	}
	if aq.Get("limit") == "" {
		aq.Set("limit", "50")
	}
	var pg server.Page[model.Exposure]
	if err := h.get(r, "/api/v1/exposures", aq, &pg); err != nil {
		return err
	}
	d.Items = pg.Items
	nq := url.Values{}
	for k, v := range d.Q {
		if k != "cursor" {
			nq.Set(k, v)
		}
	}
	if d.Q["cursor"] != "" {
		d.First = "/exposures?" + nq.Encode()
	}
	if pg.NextCursor != "" {
		nq.Set("cursor", pg.NextCursor)
		d.Next = "/exposures?" + nq.Encode()
	}
	h.render(w, r, http.StatusOK, "exposures", "Exposures", "exposures", d)
	return nil
}

type exposureData struct {
	X        server.Explanation
	Findings map[string][]model.Finding
	Tools    []string
	History  []store.StatusChange
	Triage   bool
	Expires  string
}

// maxFindingsShown bounds the findings an exposure page reads one by one.
const maxFindingsShown = 50

func (h *Handler) exposure(w http.ResponseWriter, r *http.Request) error {
	id := url.PathEscape(r.PathValue("id"))
	d := exposureData{Findings: map[string][]model.Finding{}, Expires: time.Now().AddDate(0, 3, 0).Format("2006-01-02")}
	if err := h.get(r, "/api/v1/exposures/"+id+"/explain", nil, &d.X); err != nil {
		return err
	}
	for i, fid := range d.X.Exposure.FindingIDs {
		if i == maxFindingsShown {
			break
		}
		var f model.Finding
		if err := h.get(r, "/api/v1/findings/"+url.PathEscape(fid), nil, &f); err != nil {
			return err
		}
		if _, ok := d.Findings[f.Tool]; !ok {
			d.Tools = append(d.Tools, f.Tool)
		}
		d.Findings[f.Tool] = append(d.Findings[f.Tool], f)
	}
	slices.Sort(d.Tools)
	var hist server.Page[store.StatusChange]
	if err := h.get(r, "/api/v1/exposures/"+id+"/history", url.Values{"limit": {"100"}}, &hist); err != nil {
		return err
	}
	d.History = hist.Items
	me, _ := r.Context().Value(ctxKey{}).(*server.Me)
	d.Triage = me != nil && server.Allowed(me.Role, server.ActTriage)
	h.render(w, r, http.StatusOK, "exposure", "Exposure "+d.X.Exposure.ID, "exposures", d)
	return nil
}

func (h *Handler) triage(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	req := map[string]any{"status": r.FormValue("status"), "reason": strings.TrimSpace(r.FormValue("reason"))}
	if e := r.FormValue("expires"); e != "" && r.FormValue("status") == "accepted" {
		t, err := time.Parse("2006-01-02", e)
		if err != nil {
			return &apiError{Status: http.StatusBadRequest, Detail: "the expiry must be a date (YYYY-MM-DD)"}
		}
		req["expires"] = t.UTC()
	}
	if a := strings.TrimSpace(r.FormValue("approver")); a != "" {
		req["approver"] = a
	}
	body, _ := json.Marshal(req)
	if _, err := h.call(r, "POST", "/api/v1/exposures/"+url.PathEscape(id)+"/triage", nil, "application/json", strings.NewReader(string(body)), nil); err != nil {
		return err
	}
	http.Redirect(w, r, "/exposures/"+url.PathEscape(id)+"?done=triaged", http.StatusSeeOther)
	return nil
}

// --- assets

type assetsData struct {
	Q     map[string]string
	Items []model.Asset
	Next  string
}

func (h *Handler) assets(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	d := assetsData{Q: map[string]string{}}
	aq := url.Values{"limit": {"100"}}
	for _, k := range []string{"asset", "kind", "cursor"} {
		if v := strings.TrimSpace(q.Get(k)); v != "" {
			aq.Set(k, v)
			d.Q[k] = v
		}
	}
	var pg server.Page[model.Asset]
	if err := h.get(r, "/api/v1/assets", aq, &pg); err != nil {
		return err
	}
	d.Items = pg.Items
	if pg.NextCursor != "" {
		nq := url.Values{}
		for k, v := range d.Q {
			nq.Set(k, v)
		}
		nq.Set("cursor", pg.NextCursor)
		d.Next = "/assets?" + nq.Encode()
	}
	h.render(w, r, http.StatusOK, "assets", "Assets", "assets", d)
	return nil
}

type assetData struct {
	A     server.AssetDetail
	Graph neighbourGraph
}

func (h *Handler) asset(w http.ResponseWriter, r *http.Request) error {
	var d assetData
	if err := h.get(r, "/api/v1/assets/"+url.PathEscape(r.PathValue("key")), nil, &d.A); err != nil {
		return err
	}
	d.Graph = layoutNeighbours(d.A)
	h.render(w, r, http.StatusOK, "asset", "Asset "+d.A.Name, "assets", d)
	return nil
}

// --- scans, uploads and jobs

type scansData struct {
	Items  []model.Scan
	Next   string
	Upload bool
	Tool   string
	// Jobs are the recent ingests, newest first, when the principal may
	// read jobs (an uploader sees its own).
	Jobs     []jobRow
	ReadJobs bool
}

// jobRow is an ingest job as the scans page lists it: its input's name
// and the counts of its result.
type jobRow struct {
	store.Job
	Name                                string
	Scans, Findings, New, Fixed, Assets int
}

// recentJobs is how many ingests the scans page lists.
const recentJobs = 20

func ingestRow(j store.Job) jobRow {
	row := jobRow{Job: j}
	var p struct {
		Name string `json:"name"`
	}
	if json.Unmarshal(j.Params, &p) == nil {
		row.Name = p.Name
	}
	var res server.IngestResult
	if len(j.Result) > 0 && json.Unmarshal(j.Result, &res) == nil {
		row.Scans, row.Assets = len(res.Scans), res.Assets
		for _, sc := range res.Scans {
			row.Findings += sc.Findings
			row.New += sc.New
			row.Fixed += sc.Fixed
		}
	}
	return row
}

func (h *Handler) scans(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	d := scansData{Tool: q.Get("tool")}
	aq := url.Values{"limit": {"50"}}
	if d.Tool != "" {
		aq.Set("tool", d.Tool)
	}
	if c := q.Get("cursor"); c != "" {
		aq.Set("cursor", c)
	}
	var pg server.Page[model.Scan]
	if err := h.get(r, "/api/v1/scans", aq, &pg); err != nil {
		return err
	}
	d.Items = pg.Items
	if pg.NextCursor != "" {
		nq := url.Values{"cursor": {pg.NextCursor}}
		if d.Tool != "" {
			nq.Set("tool", d.Tool)
		}
		d.Next = "/scans?" + nq.Encode()
	}
	me, _ := r.Context().Value(ctxKey{}).(*server.Me)
	d.Upload = me != nil && server.Allowed(me.Role, server.ActIngest)
	d.ReadJobs = me != nil && server.Allowed(me.Role, server.ActJobRead)
	if d.ReadJobs {
		var jobs server.Page[store.Job]
		if err := h.get(r, "/api/v1/jobs", url.Values{"kind": {"ingest"}, "limit": {fmt.Sprint(recentJobs)}}, &jobs); err != nil {
			return err
		}
		for _, j := range jobs.Items {
			d.Jobs = append(d.Jobs, ingestRow(j))
		}
	}
	h.render(w, r, http.StatusOK, "scans", "Scans", "scans", d)
	return nil
}

// upload streams a report from a multipart form to the API's ingest
// route, and shows its job.
func (h *Handler) upload(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, h.maxUpload+1<<20)
	mr, err := r.MultipartReader()
	if err != nil {
		return &apiError{Status: http.StatusBadRequest, Detail: "the upload must be a multipart form"}
	}
	fields := map[string]string{}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return &apiError{Status: http.StatusBadRequest, Detail: "the form holds no report file"}
		}
		if err != nil {
			return &apiError{Status: http.StatusBadRequest, Detail: "the upload could not be read"}
		}
		if part.FormName() != "report" {
			b, _ := io.ReadAll(io.LimitReader(part, 4096))
			fields[part.FormName()] = string(b)
			continue
		}
		// The form's fields come before the file (the template orders
		// them so): check the CSRF token before reading the report.
		want := csrfToken(r)
		if want == "" || fields["csrf"] != want {
			return &apiError{Status: http.StatusForbidden, Detail: "the form's CSRF token is missing or wrong; reload the page and try again"}
		}
		name := part.FileName()
		if name == "" {
			return &apiError{Status: http.StatusBadRequest, Detail: "choose a report file to upload"}
		}
		q := url.Values{"name": {name}}
		if t := strings.TrimSpace(fields["target"]); t != "" {
			q.Set("target", t)
		}
		ctype := "application/octet-stream"
		if ct := part.Header.Get("Content-Type"); ct != "" {
			if mt, _, err := mime.ParseMediaType(ct); err == nil {
				ctype = mt
			}
		}
		if !strings.Contains(ctype, "json") && !strings.Contains(ctype, "xml") && !strings.Contains(ctype, "yaml") && !strings.Contains(ctype, "gzip") {
			ctype = "application/json"
		}
		var job store.Job
		if _, err := h.call(r, "POST", "/api/v1/ingest", q, ctype, part, &job); err != nil {
			return err
		}
		if r.Header.Get("Accept") == "application/json" {
			w.Header().Set("Content-Type", "application/json")
			return json.NewEncoder(w).Encode(map[string]string{"location": "/jobs/" + url.PathEscape(job.ID)})
		}
		http.Redirect(w, r, "/jobs/"+url.PathEscape(job.ID)+"?done=uploaded", http.StatusSeeOther)
		return nil
	}
}

type jobData struct {
	Job    store.Job
	Result string
	Done   bool
}

func (h *Handler) job(w http.ResponseWriter, r *http.Request) error {
	var d jobData
	if err := h.get(r, "/api/v1/jobs/"+url.PathEscape(r.PathValue("id")), nil, &d.Job); err != nil {
		return err
	}
	d.Done = d.Job.State == store.JobSucceeded || d.Job.State == store.JobFailed
	if len(d.Job.Result) > 0 {
		var v any
		if json.Unmarshal(d.Job.Result, &v) == nil {
			b, _ := json.MarshalIndent(v, "", "  ")
			d.Result = string(b)
		}
	}
	h.render(w, r, http.StatusOK, "job", "Upload job", "scans", d)
	return nil
}

// --- audit

type auditData struct {
	Items []store.AuditEntry
	Next  string
}

func (h *Handler) audit(w http.ResponseWriter, r *http.Request) error {
	aq := url.Values{"limit": {"100"}}
	if a := r.URL.Query().Get("after"); a != "" {
		aq.Set("after", a)
	}
	var pg server.Page[store.AuditEntry]
	if err := h.get(r, "/api/v1/audit", aq, &pg); err != nil {
		return err
	}
	d := auditData{Items: pg.Items}
	if pg.NextCursor != "" {
		d.Next = "/audit?after=" + url.QueryEscape(pg.NextCursor)
	}
	h.render(w, r, http.StatusOK, "audit", "Audit log", "audit", d)
	return nil
}
