package web

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ctem-dev/ctem/internal/kpi"
)

// The KPI page: the series of GET /api/v1/kpis (and, with sla=true, the
// SLA adherence by owner) as small charts and tables, over a window and
// broken down by crown jewel or by team.

// kpiSinces are the windows the page offers; any number of days the API
// accepts works in the URL.
var kpiSinces = []string{"30d", "90d", "180d", "365d"}

// kpisData is what the KPI page shows.
type kpisData struct {
	Since, By string
	Sinces    []string
	KPI       kpi.Report
	// Pending and SLAPending say that the report or the SLA series are
	// still being computed (the page refreshes).
	Pending, SLAPending bool
	// Validated is the validated paths the latest recorded analysis
	// counted; HasValidated is false when none in the window recorded it.
	Validated    int
	HasValidated bool
	Weeks        []kpiWeek
	PathsChart   mchart
	BurnChart    mchart
	KEVChart     mchart
	Jewels       []kpiBreakdown
	Teams        []kpiBreakdown
	BandBars     bars
	SevBars      bars
	Critical     shareBar
	SLA          []kpiOwner
	SLAChart     mchart
}

// kpiWeek is one period of the report with the validated paths of the
// latest recorded analysis by its end (Validated < 0: none).
type kpiWeek struct {
	kpi.Period
	Label     string
	Validated int
}

// kpiBreakdown is one crown jewel's or team's attack paths: open at each
// period's end (Series) and validated (ValidatedSeries, "–" where no
// analysis recorded them), drawn in Trend; open and validated now.
type kpiBreakdown struct {
	Key             string
	Series          string
	ValidatedSeries string
	Trend           mchart
	OpenNow         int
	Validated       int
}

// kpiOwner is one owner's SLA adherence, week by week.
type kpiOwner struct {
	kpi.OwnerSLA
	Weeks []kpiOwnerWeek
}

type kpiOwnerWeek struct {
	kpi.SLAWeek
	Label string
}

func (h *Handler) kpis(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	d := kpisData{Since: q.Get("since"), By: q.Get("by"), Sinces: kpiSinces}
	if d.Since == "" {
		d.Since = "90d"
	}
	if d.By == "" {
		d.By = "jewel"
	}
	if d.By != "jewel" && d.By != "team" {
		return &apiError{Status: http.StatusBadRequest, Detail: "by must be team or jewel"}
	}
	var sla kpi.Report
	var err, slaErr error
	var wg sync.WaitGroup
	wg.Go(func() { d.Pending, err = h.patient(r, url.Values{"since": {d.Since}}, &d.KPI) })
	wg.Go(func() { d.SLAPending, slaErr = h.patient(r, url.Values{"since": {d.Since}, "sla": {"true"}}, &sla) })
	wg.Wait()
	if err != nil {
		return err
	}
	if slaErr != nil {
		return slaErr
	}
	d.build(sla)
	h.render(w, r, http.StatusOK, "kpis", "Key figures", "kpis", d)
	return nil
}

// patient reads the KPIs for q, waiting up to kpiPatience: it reports
// true (and no error) when they are still being computed.
func (h *Handler) patient(r *http.Request, q url.Values, out *kpi.Report) (bool, error) {
	ctx, cancel := context.WithTimeout(r.Context(), kpiPatience)
	defer cancel()
	err := h.get(r.WithContext(ctx), "/api/v1/kpis", q, out)
	if err != nil && ctx.Err() != nil && r.Context().Err() == nil {
		return true, nil
	}
	return false, err
}

// build computes the page's rows and charts from the report and the SLA
// report.
func (d *kpisData) build(sla kpi.Report) {
	k := &d.KPI
	var labels []string
	for _, p := range k.Periods {
		labels = append(labels, p.Start.Format("01-02"))
	}
	// The validated paths at a period's end are those of the latest
	// analysis that recorded them (a derived snapshot does not know them).
	// The snapshots are oldest first, the derived ones before the
	// recorded (kpi.Report.Snapshots).
	snapAt := func(until time.Time, recorded bool) *kpi.Snapshot {
		i, _ := slices.BinarySearchFunc(k.Snapshots, until, func(s kpi.Snapshot, t time.Time) int {
			if s.At.Before(t) {
				return -1
			}
			return 1
		})
		if i == 0 || recorded && k.Snapshots[i-1].Derived {
			return nil
		}
		return &k.Snapshots[i-1]
	}
	var open, opened, fixed, validated, kev []float64
	for i, p := range k.Periods {
		until := p.End
		if i == len(k.Periods)-1 {
			until = k.To.Add(time.Nanosecond)
		}
		wk := kpiWeek{Period: p, Label: labels[i], Validated: -1}
		v := math.NaN()
		if s := snapAt(until, true); s != nil {
			wk.Validated, v = s.ValidatedPaths, float64(s.ValidatedPaths)
		}
		d.Weeks = append(d.Weeks, wk)
		open = append(open, float64(p.OpenPaths))
		validated = append(validated, v)
		opened = append(opened, float64(p.Opened))
		fixed = append(fixed, float64(p.Fixed))
		kev = append(kev, float64(p.KEVOverdue))
	}
	last := snapAt(k.To.Add(time.Nanosecond), true)
	if last != nil {
		d.Validated, d.HasValidated = last.ValidatedPaths, true
	}
	d.PathsChart = multiChart(labels, []series{{"Open paths", open}, {"Validated paths", validated}}, 560, 180)
	d.BurnChart = multiChart(labels, []series{{"Opened", opened}, {"Fixed", fixed}}, 560, 180)
	d.KEVChart = multiChart(labels, []series{{"KEV past due", kev}}, 560, 140)
	// validatedBy is a jewel's or team's validated paths at each period's
	// end (NaN where no analysis recorded them).
	validatedBy := func(of func(*kpi.Snapshot) int) []float64 {
		var v []float64
		for i, p := range k.Periods {
			until := p.End
			if i == len(k.Periods)-1 {
				until = k.To.Add(time.Nanosecond)
			}
			f := math.NaN()
			if s := snapAt(until, true); s != nil {
				f = float64(of(s))
			}
			v = append(v, f)
		}
		return v
	}
	for _, j := range k.Jewels {
		b := kpiBreakdown{Key: j.Jewel, OpenNow: j.OpenNow, Validated: -1, Series: joinInts(j.Open)}
		val := validatedBy(func(s *kpi.Snapshot) int { return s.Jewels[j.Jewel].ValidatedPaths })
		b.ValidatedSeries, b.Trend = joinKnown(val), sparkChart(ints(j.Open), val, 140, 26)
		if last != nil {
			b.Validated = last.Jewels[j.Jewel].ValidatedPaths
		}
		d.Jewels = append(d.Jewels, b)
	}
	// Paths by team: the teams of the crown jewels (kpi.Snapshot.Teams),
	// at the end of each period.
	teams := map[string]bool{}
	for _, s := range k.Snapshots {
		for t := range s.Teams {
			teams[t] = true
		}
	}
	for _, t := range sortedKeys(teams) {
		b := kpiBreakdown{Key: t, Validated: -1}
		var n []int
		for i, p := range k.Periods {
			until := p.End
			if i == len(k.Periods)-1 {
				until = k.To.Add(time.Nanosecond)
			}
			v := 0
			if s := snapAt(until, false); s != nil {
				v = s.Teams[t].OpenPaths
			}
			n = append(n, v)
		}
		if s := snapAt(k.To.Add(time.Nanosecond), false); s != nil {
			b.OpenNow = s.Teams[t].OpenPaths
		}
		if last != nil {
			b.Validated = last.Teams[t].ValidatedPaths
		}
		val := validatedBy(func(s *kpi.Snapshot) int { return s.Teams[t].ValidatedPaths })
		b.Series, b.ValidatedSeries, b.Trend = joinInts(n), joinKnown(val), sparkChart(ints(n), val, 140, 26)
		d.Teams = append(d.Teams, b)
	}
	d.BandBars = remediationBars(k.ByBand, func(m kpi.Remediation) string { return m.Band })
	d.SevBars = remediationBars(k.BySeverity, func(m kpi.Remediation) string { return string(m.Severity) })
	d.Critical = newShareBar(k.CriticalShare, 360, 18)
	var shares []series
	for _, o := range sla.SLA {
		ko := kpiOwner{OwnerSLA: o}
		var past []float64
		for i, w := range o.Weeks {
			l := w.Start.Format("01-02")
			if i < len(labels) {
				l = labels[i]
			}
			ko.Weeks = append(ko.Weeks, kpiOwnerWeek{SLAWeek: w, Label: l})
			past = append(past, w.PastDueShare*100)
		}
		d.SLA = append(d.SLA, ko)
		name := o.Owner
		if name == "" {
			name = "no owner"
		}
		shares = append(shares, series{name, past})
	}
	d.SLAChart = multiChart(labels, shares, 560, 180)
}

func ints(n []int) []float64 {
	f := make([]float64, len(n))
	for i, v := range n {
		f[i] = float64(v)
	}
	return f
}

// joinKnown writes values as the page's data attributes do: "–" for an
// unknown one.
func joinKnown(v []float64) string {
	s := make([]string, len(v))
	for i, f := range v {
		s[i] = "–"
		if !math.IsNaN(f) {
			s[i] = fmt.Sprint(f)
		}
	}
	return strings.Join(s, ",")
}

func joinInts(n []int) string {
	s := make([]string, len(n))
	for i, v := range n {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ",")
}
