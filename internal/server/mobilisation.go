package server

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/estate/scope"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/server/apitypes"
	"github.com/ctem-dev/ctem/internal/sla"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/ticket"
)

// Mobilisation configures the mobilisation routes.
type Mobilisation struct {
	// Tracker builds the tracker POST /api/v1/tickets/sync writes to,
	// given the projects the scope's ticket routes name; nil allows only
	// dry runs, against ctem's own ticket records.
	Tracker func(projects []string) (ticket.Tracker, error)
}

// mobilisationRoutes are the routes of mobilisation: the remediation
// actions and their tickets, the ticket sync, risk acceptance, false
// positives and the SLA status, each a use case of package app (or of
// the packages ticket and sla over it).
func (s *Server) mobilisationRoutes() []route {
	return []route{
		{Name: "actions", Method: "GET", Pattern: "/api/v1/actions", Action: ActRead, H: s.listActions},
		{Name: "tickets.sync", Method: "POST", Pattern: "/api/v1/tickets/sync", Action: ActTriage, Params: []string{"dry_run"}, H: s.syncTickets},
		{Name: "accept", Method: "POST", Pattern: "/api/v1/acceptances", Action: ActTriage, H: s.acceptRisk},
		{Name: "acceptances", Method: "GET", Pattern: "/api/v1/acceptances", Action: ActRead, Params: []string{"all"}, H: s.listAcceptances},
		{Name: "false-positive", Method: "POST", Pattern: "/api/v1/exposures/{id}/false-positive", Action: ActTriage, H: s.falsePositive},
		{Name: "sla", Method: "GET", Pattern: "/api/v1/sla", Action: ActRead, Params: []string{"owner", "breached", "due_within"}, H: s.slaStatus},
	}
}

// RemediationAction is a fix-plan action with its tickets.
type RemediationAction struct {
	Key         string         `json:"key"`
	TicketKey   string         `json:"ticket_key"`
	Title       string         `json:"title"`
	Owner       string         `json:"owner,omitempty"`
	RiskRemoved float64        `json:"risk_removed"`
	Effort      float64        `json:"effort"`
	Exposures   int            `json:"exposures"`
	Tickets     []store.Ticket `json:"tickets"`
}

// trackers are the tracker names whose records the action list shows.
var trackers = []string{"github", "gitlab", "jira", "webhook"}

func (s *Server) listActions(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	fp, err := s.app.FixPlan(ctx, 0, graph.Options{})
	if err != nil {
		return err
	}
	recs := map[string][]store.Ticket{}
	if m, ok := s.st.(store.Mobilisation); ok {
		for _, tr := range trackers {
			for t, err := range m.Tickets(ctx, tr) {
				if err != nil {
					return err
				}
				recs[t.ActionKey] = append(recs[t.ActionKey], t)
			}
		}
	}
	p := principal(ctx)
	out := struct {
		Items []RemediationAction `json:"items"`
	}{Items: []RemediationAction{}}
	for _, it := range fp.Plan.Items {
		if it.RiskRemoved <= 0 || (p != nil && p.Team != "" && it.Owner != p.Team) {
			continue
		}
		key := ticket.Key(it.Key)
		ts := recs[key]
		if ts == nil {
			ts = []store.Ticket{}
		}
		out.Items = append(out.Items, RemediationAction{Key: it.Key, TicketKey: key, Title: it.Title, Owner: it.Owner,
			RiskRemoved: it.RiskRemoved, Effort: it.Effort, Exposures: len(it.Exposures), Tickets: ts})
	}
	return writeJSON(w, http.StatusOK, out)
}

// recordsTracker is the tracker of a dry run without a configured one:
// it cannot be read (the sync then trusts ctem's records) and never
// written, as a dry run writes nothing.
type recordsTracker struct{}

func (recordsTracker) Name() string { return "records" }
func (recordsTracker) List(context.Context) ([]ticket.Remote, error) {
	return nil, ticket.ErrNoList
}
func (recordsTracker) Create(context.Context, ticket.Ticket) (ticket.Remote, error) {
	return ticket.Remote{}, errStatus(http.StatusConflict, "no tracker is configured")
}
func (recordsTracker) Update(context.Context, ticket.Remote, ticket.Ticket) error {
	return errStatus(http.StatusConflict, "no tracker is configured")
}
func (recordsTracker) SetOpen(context.Context, ticket.Remote, ticket.Ticket, bool, string) error {
	return errStatus(http.StatusConflict, "no tracker is configured")
}

func (s *Server) syncTickets(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p := principal(ctx)
	if p != nil && p.Team != "" {
		return errStatus(http.StatusForbidden, "a team-scoped token may not sync tickets: a sync touches every team's tickets")
	}
	dryRun := false
	if v := r.URL.Query().Get("dry_run"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return badParam("dry_run", "dry_run must be true or false")
		}
		dryRun = b
	}
	recs, ok := s.st.(store.Mobilisation)
	if !ok {
		return errStatus(http.StatusConflict, "this database keeps no ticket records")
	}
	sc, err := s.app.ScopeInForce(ctx)
	if err != nil {
		return err
	}
	var tr ticket.Tracker = recordsTracker{}
	switch {
	case s.mob.Tracker != nil:
		var projects []string
		for _, rt := range sc.Tickets.Routes {
			projects = append(projects, rt.Project)
		}
		if tr, err = s.mob.Tracker(projects); err != nil {
			return fmt.Errorf("tracker: %w", err)
		}
	case !dryRun:
		return errStatus(http.StatusConflict, "no tracker is configured on this server: only a dry run (dry_run=true) is possible")
	}
	want, err := ticket.Wanted(ctx, s.app)
	if err != nil {
		return err
	}
	latest, err := ticket.LatestScan(ctx, s.app)
	if err != nil {
		return err
	}
	res, err := ticket.SyncWith(ctx, tr, recs, want, ticket.Options{DryRun: dryRun, Now: s.now(), LatestScan: latest})
	if res != nil && !dryRun {
		s.audit(r, p, "tickets.sync", tr.Name(), outcome(err), fmt.Sprintf("%d changes, %d unchanged", len(res.Changes), res.Unchanged))
	}
	if err != nil {
		// The tracker refused or failed: what was done is recorded;
		// running the sync again completes it.
		s.log.Error("ticket sync", "tracker", tr.Name(), "err", err, "request_id", requestID(ctx))
		return errStatus(http.StatusBadGateway, "the %s tracker failed half-way; what it took is recorded, and a new sync completes it", tr.Name())
	}
	return writeJSON(w, http.StatusOK, res)
}

func outcome(err error) string {
	if err != nil {
		return "failed"
	}
	return "ok"
}

func (s *Server) acceptRisk(w http.ResponseWriter, r *http.Request) error {
	var req apitypes.AcceptanceRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	p := principal(ctx)
	sc := app.AcceptScope{ExposureID: deref(req.ExposureId), VulnID: deref(req.VulnId), Asset: deref(req.Asset), PathID: deref(req.PathId)}
	if p != nil && p.Team != "" {
		// A team decides for its own assets only.
		v, err := s.visibleTo(ctx, p)
		if err != nil {
			return err
		}
		switch {
		case sc.ExposureID != "" && sc.VulnID == "" && sc.Asset == "" && sc.PathID == "":
			x, err := s.st.Exposure(ctx, sc.ExposureID)
			if err != nil {
				return err
			}
			if !v.asset(x.Asset) {
				return fmt.Errorf("no exposure %q: %w", sc.ExposureID, store.ErrNotFound)
			}
			sc.ExposureID = x.ID
		case sc.VulnID != "" && sc.Asset != "" && sc.ExposureID == "" && sc.PathID == "":
			if !v.asset(sc.Asset) {
				return fmt.Errorf("no asset %q: %w", sc.Asset, store.ErrNotFound)
			}
		default:
			return errStatus(http.StatusForbidden, "a team-scoped token may accept one of its team's exposures, or a vulnerability on one of its team's assets")
		}
	}
	res, err := s.app.AcceptRisk(ctx, app.AcceptRequest{Scope: sc, Reason: req.Reason, By: p.String(), Approver: req.Approver, Expires: req.Expires.UTC()})
	if err != nil {
		return err
	}
	s.audit(r, p, "accept", res.Rule.ID, "ok", fmt.Sprintf("%d exposures until %s, approved by %s: %s", len(res.Changes), res.Rule.Expires.Format(time.RFC3339), req.Approver, req.Reason))
	if res.Changes == nil {
		res.Changes = []store.StatusChange{}
	}
	return writeJSON(w, http.StatusCreated, res)
}

func (s *Server) falsePositive(w http.ResponseWriter, r *http.Request) error {
	var req apitypes.FalsePositiveRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	x, err := s.exposure(r)
	if err != nil {
		return err
	}
	p := principal(r.Context())
	c, err := s.app.MarkFalsePositive(r.Context(), x.ID, req.Reason, p.String())
	if err != nil {
		return err
	}
	s.audit(r, p, "false-positive", x.ID, "ok", req.Reason)
	return writeJSON(w, http.StatusOK, c)
}

// SLAItem is an exposure's SLA as the API shows it.
type SLAItem struct {
	ExposureID   string    `json:"exposure_id"`
	Weakness     string    `json:"weakness"`
	Asset        string    `json:"asset"`
	Severity     string    `json:"severity"`
	Status       string    `json:"status"`
	Owner        string    `json:"owner,omitempty"`
	KEV          bool      `json:"kev"`
	Internet     bool      `json:"internet"`
	JewelValue   int       `json:"jewel_value,omitempty"`
	Rule         string    `json:"rule"`
	AllowedHours float64   `json:"allowed_hours"`
	PausedHours  float64   `json:"paused_hours,omitempty"`
	Due          time.Time `json:"due"`
	Breached     bool      `json:"breached"`
	Accepted     bool      `json:"accepted"`
}

func (s *Server) slaStatus(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := sla.Query{Owner: r.URL.Query().Get("owner"), Now: s.now()}
	if v := r.URL.Query().Get("breached"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return badParam("breached", "breached must be true or false")
		}
		q.Breached = b
	}
	if v := r.URL.Query().Get("due_within"); v != "" {
		d, err := scope.ParseDuration(v)
		if err != nil {
			return badParam("due_within", "%s", safeText(err.Error()))
		}
		q.DueWithin = time.Duration(d)
	}
	res, err := sla.List(ctx, s.app, q)
	if err != nil {
		return err
	}
	vis, err := s.visibleTo(ctx, principal(ctx))
	if err != nil {
		return err
	}
	out := struct {
		Items    []SLAItem `json:"items"`
		Breached int       `json:"breached"`
	}{Items: []SLAItem{}}
	for _, it := range res.Items {
		x := it.Exposure
		if !vis.asset(x.Asset) {
			continue
		}
		out.Items = append(out.Items, SLAItem{ExposureID: x.ID, Weakness: app.WeaknessName(x), Asset: x.Asset, Severity: string(x.Severity),
			Status: string(x.Status), Owner: it.Owner, KEV: it.KEV, Internet: it.Internet, JewelValue: it.JewelValue, Rule: it.Due.Rule,
			AllowedHours: it.Due.Allowed.Hours(), PausedHours: it.Due.Paused.Hours(), Due: it.Due.At, Breached: it.Due.Breached, Accepted: it.Due.Accepted})
		if it.Due.Breached {
			out.Breached++
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

// listAcceptances lists the acceptance rules in force, or every rule with
// all=true, oldest first. A team-scoped token sees the rules of its own
// exposures and assets only.
func (s *Server) listAcceptances(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	all := false
	if v := r.URL.Query().Get("all"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return badParam("all", "all must be true or false")
		}
		all = b
	}
	out := struct {
		Items []store.AcceptanceRule `json:"items"`
	}{Items: []store.AcceptanceRule{}}
	m, ok := s.st.(store.Mobilisation)
	if !ok {
		return writeJSON(w, http.StatusOK, out)
	}
	p := principal(ctx)
	v, err := s.visibleTo(ctx, p)
	if err != nil {
		return err
	}
	now := s.now()
	for rule, err := range m.AcceptanceRules(ctx) {
		if err != nil {
			return err
		}
		if !all && !rule.Expires.After(now) {
			continue
		}
		if v != nil {
			switch {
			case rule.Asset != "" && v.asset(rule.Asset):
			case rule.ExposureID != "":
				x, err := s.st.Exposure(ctx, rule.ExposureID)
				if err != nil || !v.asset(x.Asset) {
					continue
				}
			default:
				continue
			}
		}
		out.Items = append(out.Items, rule)
	}
	return writeJSON(w, http.StatusOK, out)
}
