package server

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ctem-dev/ctem/internal/estate/scope"
	"github.com/ctem-dev/ctem/internal/sla"
	"github.com/ctem-dev/ctem/internal/store"
)

// dashboardRoutes are the listings the dashboard's pages summarise: the
// recent jobs (the scans page's ingests and their errors) and the SLA
// adherence by owner (the overview).
func (s *Server) dashboardRoutes() []route {
	return []route{
		{Name: "jobs", Method: "GET", Pattern: "/api/v1/jobs", Action: ActJobRead, Params: []string{"kind", "state", "limit", "cursor"}, H: s.listJobs},
		{Name: "sla.owners", Method: "GET", Pattern: "/api/v1/sla/owners", Action: ActRead, Params: []string{"due_within"}, H: s.slaByOwner},
	}
}

// jobStates are the states a job listing may filter by.
var jobStates = []string{store.JobQueued, store.JobRunning, store.JobSucceeded, store.JobFailed}

// listJobs lists the recent jobs, newest first. An uploader, or a
// principal limited to a team, sees the jobs it created only (as
// getJob); others who read jobs see every job.
func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) error {
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	q := store.JobQuery{Kind: r.URL.Query().Get("kind"), State: r.URL.Query().Get("state"), Limit: limit + 1}
	if q.State != "" && !slices.Contains(jobStates, q.State) {
		return badParam("state", "unknown state %q (want queued, running, succeeded or failed)", q.State)
	}
	if c := r.URL.Query().Get("cursor"); c != "" {
		at, id, ok := strings.Cut(c, "-")
		n, err := strconv.ParseInt(at, 10, 64)
		if !ok || err != nil || n < 0 || id == "" {
			return badParam("cursor", "the cursor is not one this listing gave")
		}
		q.BeforeAt, q.BeforeID = time.UnixMicro(n).UTC(), id
	}
	if p := principal(r.Context()); p.Role == RoleUploader || p.Team != "" {
		q.CreatedBy = p.String()
	}
	js, err := s.st.RecentJobs(r.Context(), q)
	if err != nil {
		return err
	}
	out := Page[store.Job]{Items: js}
	if len(js) > limit {
		last := js[limit-1]
		out.Items, out.NextCursor = js[:limit], strconv.FormatInt(last.CreatedAt.UnixMicro(), 10)+"-"+last.ID
	}
	return writeJSON(w, http.StatusOK, out)
}

// OwnerSLA is one owner's SLA adherence: its open or accepted exposures
// that have an SLA, how many are past due, how many more fall due within
// the window, and the share not past due.
type OwnerSLA struct {
	Owner    string `json:"owner"`
	Total    int    `json:"total"`
	Breached int    `json:"breached"`
	// DueSoon counts the exposures neither accepted nor breached that
	// fall due within the window.
	DueSoon  int     `json:"due_soon"`
	Accepted int     `json:"accepted"`
	Within   float64 `json:"within_sla"`
}

// SLAOwners is the SLA adherence by owner.
type SLAOwners struct {
	Items []OwnerSLA `json:"items"`
	// DueWithinHours is the window of DueSoon.
	DueWithinHours float64 `json:"due_within_hours"`
}

// slaByOwner sums the SLA status (as GET /api/v1/sla lists it, the same
// principal seeing the same exposures) by owner, owners by name.
func (s *Server) slaByOwner(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	window := 7 * 24 * time.Hour
	if v := r.URL.Query().Get("due_within"); v != "" {
		d, err := scope.ParseDuration(v)
		if err != nil || d <= 0 {
			return badParam("due_within", "due_within must be a positive duration (7d, 2w, 36h)")
		}
		window = time.Duration(d)
	}
	now := s.now()
	res, err := sla.List(ctx, s.app, sla.Query{Now: now})
	if err != nil {
		return err
	}
	vis, err := s.visibleTo(ctx, principal(ctx))
	if err != nil {
		return err
	}
	by := map[string]*OwnerSLA{}
	for _, it := range res.Items {
		if !vis.asset(it.Exposure.Asset) {
			continue
		}
		o := by[it.Owner]
		if o == nil {
			o = &OwnerSLA{Owner: it.Owner}
			by[it.Owner] = o
		}
		o.Total++
		switch {
		case it.Due.Breached:
			o.Breached++
		case it.Due.Accepted:
		case !it.Due.At.After(now.Add(window)):
			o.DueSoon++
		}
		if it.Due.Accepted {
			o.Accepted++
		}
	}
	out := SLAOwners{Items: []OwnerSLA{}, DueWithinHours: window.Hours()}
	for _, o := range by {
		o.Within = float64(o.Total-o.Breached) / float64(o.Total)
		out.Items = append(out.Items, *o)
	}
	slices.SortFunc(out.Items, func(a, b OwnerSLA) int { return cmp.Compare(a.Owner, b.Owner) })
	return writeJSON(w, http.StatusOK, out)
}
