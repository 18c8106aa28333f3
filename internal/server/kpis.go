package server

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/kpi"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/sla"
	"github.com/ctem-dev/ctem/internal/store"
)

// kpis answers the programme's key figures (the command line's kpi -o
// json with --by team and jewel). A team-scoped principal's figures are
// computed over its team's exposures and the paths it may see only.
// With sla=true the report adds each owner's SLA adherence, week by week
// (kpi.Report.SLA), which reads every exposure.
//
// Computing them reads every exposure with its history: 6.5 s for 100,000
// findings and 2 minutes for 1,000,000 on the reference machine. So a
// report is kept per team and window, computed in the background (one
// computation at a time per key, which goes on when the client gives
// up), and answered again while it is fresh: its data (ingest sequence,
// scope and CODEOWNERS versions) unchanged and younger than kpiTTL. When
// only a stale report is kept, the answer waits up to kpiWait for the new
// one and else gives the stale one (its "to" says when it was computed).
func (s *Server) kpis(w http.ResponseWriter, r *http.Request) error {
	since := 90 * 24 * time.Hour
	if v := r.URL.Query().Get("since"); v != "" {
		n, err := strconv.Atoi(strings.TrimSuffix(v, "d"))
		if err != nil || !strings.HasSuffix(v, "d") || n < 1 || n > 3660 {
			return badParam("since", "since must be a number of days from 1d to 3660d")
		}
		since = time.Duration(n) * 24 * time.Hour
	}
	withSLA := false
	if v := r.URL.Query().Get("sla"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return badParam("sla", "sla must be true or false")
		}
		withSLA = b
	}
	p := principal(r.Context())
	inputs, err := s.inputsKey(r.Context())
	if err != nil {
		return err
	}
	key := fmt.Sprintf("%s|%d|%v", p.Team, since, withSLA)
	c := &s.kpiCache
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]*kpiEntry{}
	}
	e := c.m[key]
	if e == nil {
		if len(c.m) >= 256 {
			clear(c.m)
		}
		e = &kpiEntry{}
		c.m[key] = e
	}
	now := s.now()
	if e.rep != nil && e.inputs == inputs && now.Sub(e.at) <= kpiTTL && !now.Before(e.at) {
		rep := e.rep
		c.mu.Unlock()
		return writeJSON(w, http.StatusOK, rep)
	}
	if e.running == nil {
		done := make(chan struct{})
		e.running = done
		ctx := context.WithoutCancel(r.Context())
		go func() {
			rep, err := s.computeKPIs(ctx, p, since, withSLA)
			c.mu.Lock()
			if err == nil {
				e.rep, e.inputs, e.at = rep, inputs, now
			}
			e.err, e.running = err, nil
			c.mu.Unlock()
			close(done)
		}()
	}
	done, stale := e.running, e.rep
	c.mu.Unlock()
	wait := time.NewTimer(kpiWait)
	defer wait.Stop()
	if stale == nil {
		wait.Stop() // nothing to fall back on: wait for the report
	}
	select {
	case <-done:
	case <-wait.C:
		return writeJSON(w, http.StatusOK, stale)
	case <-r.Context().Done():
		return r.Context().Err()
	}
	c.mu.Lock()
	rep, err := e.rep, e.err
	c.mu.Unlock()
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, rep)
}

// computeKPIs computes the report for p's view, with the SLA adherence
// by owner under the scope's policy when withSLA is set.
func (s *Server) computeKPIs(ctx context.Context, p *Principal, since time.Duration, withSLA bool) (*kpi.Report, error) {
	st, opt, err := s.kpiOptions(ctx, p, since)
	if err != nil {
		return nil, err
	}
	if withSLA {
		if opt.SLA, err = sla.KPIDue(ctx, s.app); err != nil {
			return nil, err
		}
	}
	return kpi.Compute(ctx, st, opt)
}

// kpiOptions returns the store of p's view (its team's exposures and
// paths) and the KPI options of the window since: the estate's owners
// and criticality, and the KEV catalog's due dates.
func (s *Server) kpiOptions(ctx context.Context, p *Principal, since time.Duration) (store.Store, kpi.Options, error) {
	es, _, err := s.estateNow(ctx)
	if err != nil {
		return nil, kpi.Options{}, err
	}
	v, err := s.visibleTo(ctx, p)
	if err != nil {
		return nil, kpi.Options{}, err
	}
	var st store.Store = s.st
	if v != nil {
		ids := map[string]bool{}
		pl, err := s.app.Paths(ctx, app.PathQuery{})
		if err != nil {
			return nil, kpi.Options{}, err
		}
		for _, p := range pl.Paths {
			if v.path(p) {
				ids[p.ID] = true
			}
		}
		st = teamStore{Store: s.st, v: v, paths: ids}
	}
	opt := kpi.Options{
		Now:      s.now(),
		Since:    since,
		Owner:    func(a string) string { return es.Context(es.Canonical(a)).Owner },
		Critical: func(a string) bool { return es.Context(es.Canonical(a)).Criticality == "critical" },
	}
	if s.app.Intel != nil {
		if in, err := s.app.Intel(); err == nil && in.KEV != nil {
			opt.KEVCVEs = in.KEV.CVEs()
			opt.KEVDue = func(cve string) (time.Time, bool) {
				k, ok := in.KEV.Lookup(cve)
				return k.DueDate, ok && !k.DueDate.IsZero()
			}
		}
	}
	return st, opt, nil
}

// kpiTTL is how long a KPI report is answered again for the same data;
// a triage decision (which the data version does not count) shows in the
// figures within kpiTTL. kpiWait is how long a request waits for a new
// report before it takes the stale one.
const (
	kpiTTL  = 30 * time.Second
	kpiWait = 2 * time.Second
)

// kpiCache keeps the latest KPI report per team and window.
type kpiCache struct {
	mu sync.Mutex
	m  map[string]*kpiEntry
}

type kpiEntry struct {
	inputs  string
	at      time.Time
	rep     *kpi.Report
	err     error
	running chan struct{}
}

// teamStore is the store as a team sees it for the KPIs: its exposures,
// and the events of the paths it may see.
type teamStore struct {
	store.Store
	v     scopeOf
	paths map[string]bool
}

func (t teamStore) Exposures(ctx context.Context, f store.Filter) iter.Seq2[model.Exposure, error] {
	return func(yield func(model.Exposure, error) bool) {
		for x, err := range t.Store.Exposures(ctx, f) {
			if err != nil || t.v.asset(x.Asset) {
				if !yield(x, err) {
					return
				}
			}
		}
	}
}

func (t teamStore) PathEvents(ctx context.Context, f store.Filter) iter.Seq2[store.PathEvent, error] {
	return func(yield func(store.PathEvent, error) bool) {
		for e, err := range t.Store.PathEvents(ctx, f) {
			if err != nil || t.paths[e.PathID] {
				if !yield(e, err) {
					return
				}
			}
		}
	}
}
