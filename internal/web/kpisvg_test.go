package web

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/internal/kpi"
)

// TestMultiChart checks the KPI page's line charts: an unknown value is
// left out of its line, a chart with no known value is empty, and every
// point lies in the plot, the largest at its top.
func TestMultiChart(t *testing.T) {
	t.Parallel()
	nan := math.NaN()
	for _, tc := range []struct {
		name      string
		labels    []string
		ss        []series
		empty     bool
		wantDots  []int
		wantLines int
	}{
		{"two series", []string{"a", "b", "c"}, []series{{"x", []float64{1, 2, 4}}, {"y", []float64{nan, 1, nan}}}, false, []int{3, 1}, 2},
		{"all unknown", []string{"a", "b"}, []series{{"x", []float64{nan, nan}}}, true, nil, 0},
		{"no labels", nil, []series{{"x", []float64{1}}}, true, nil, 0},
		{"zeros", []string{"a", "b"}, []series{{"x", []float64{0, 0}}}, false, []int{2}, 1},
		{"one week", []string{"a"}, []series{{"x", []float64{3}}}, false, []int{1}, 1},
	} {
		c := multiChart(tc.labels, tc.ss, 400, 120)
		if c.Empty != tc.empty || len(c.Lines) != tc.wantLines {
			t.Errorf("multiChart(%s) = empty %v, %d lines; want %v, %d", tc.name, c.Empty, len(c.Lines), tc.empty, tc.wantLines)
			continue
		}
		for i, l := range c.Lines {
			if len(l.Dots) != tc.wantDots[i] || len(strings.Fields(l.Points)) != tc.wantDots[i] {
				t.Errorf("multiChart(%s) line %d = %d dots, points %q; want %d", tc.name, i, len(l.Dots), l.Points, tc.wantDots[i])
			}
			for _, d := range l.Dots {
				if d.X < 40 || d.X > 400-22 || d.Y < 10 || d.Y > 120-22 {
					t.Errorf("multiChart(%s) dot %q at (%g, %g), want it in the plot", tc.name, d.Text, d.X, d.Y)
				}
			}
		}
		if tc.name == "two series" {
			if top := c.Lines[0].Dots[2]; top.Y != 10 || top.Text != "x c: 4" {
				t.Errorf("multiChart(%s) largest dot = %+v, want %q at the top (y 10)", tc.name, top, "x c: 4")
			}
		}
	}
}

// TestRemediationBars checks that the longest time to remediate fills
// the plot's width and the others scale to it.
func TestRemediationBars(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	ms := []kpi.Remediation{{Band: "p1", Fixed: 2, Mean: 2 * day, P90: 4 * day}, {Band: "p3", Fixed: 1, Mean: day, P90: day}}
	b := remediationBars(ms, func(m kpi.Remediation) string { return m.Band })
	if b.Empty || len(b.Rows) != 2 {
		t.Fatalf("remediationBars = %d rows (empty %v), want 2", len(b.Rows), b.Empty)
	}
	full := b.Rows[0].Bars[1].W
	for i, want := range [][2]float64{{0.5, 1}, {0.25, 0.25}} {
		for j, f := range want {
			if got := b.Rows[i].Bars[j].W; math.Abs(got-f*full) > 1e-9 {
				t.Errorf("remediationBars row %d bar %d width = %g, want %g of %g", i, j, got, f, full)
			}
		}
	}
	if got := b.Rows[0].Bars[1].Text; got != "4.0 d" {
		t.Errorf("remediationBars p1's 90th percentile = %q, want %q", got, "4.0 d")
	}
	if e := remediationBars(nil, nil); !e.Empty {
		t.Errorf("remediationBars(nil) = %+v, want empty", e)
	}
}

// TestKPIsBuild checks the validated paths week by week: those of the
// latest analysis that recorded them by the week's end, unknown (-1)
// before the first (a snapshot derived from the path events does not
// know them), and the open paths by team from the latest snapshot of
// any kind.
func TestKPIsBuild(t *testing.T) {
	t.Parallel()
	mon := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	wk := func(n int) time.Time { return mon.Add(time.Duration(n) * kpi.Week) }
	snap := func(at time.Time, derived bool, open, validated int) kpi.Snapshot {
		return kpi.Snapshot{At: at, Derived: derived, OpenPaths: open, ValidatedPaths: validated,
			Teams: map[string]kpi.JewelSnapshot{"team-data": {OpenPaths: open, ValidatedPaths: validated}}}
	}
	d := kpisData{KPI: kpi.Report{
		From: mon, To: wk(3).Add(-time.Hour),
		Periods: []kpi.Period{{Start: wk(0), End: wk(1)}, {Start: wk(1), End: wk(2)}, {Start: wk(2), End: wk(3).Add(-time.Hour)}},
		Snapshots: []kpi.Snapshot{
			snap(wk(0).Add(time.Hour), true, 3, 0),
			snap(wk(1).Add(time.Hour), false, 4, 2),
			snap(wk(1).Add(2*time.Hour), false, 5, 1),
			snap(wk(3).Add(-time.Hour), false, 6, 5), // at the report's time: in the last week
		},
	}}
	d.build(kpi.Report{})
	var got []int
	for _, w := range d.Weeks {
		got = append(got, w.Validated)
	}
	if want := []int{-1, 1, 5}; !slices.Equal(got, want) {
		t.Errorf("build: validated paths by week = %v, want %v", got, want)
	}
	if !d.HasValidated || d.Validated != 5 {
		t.Errorf("build: latest validated = %d (%v), want 5", d.Validated, d.HasValidated)
	}
	if len(d.Teams) != 1 || d.Teams[0].Series != "3,5,6" || d.Teams[0].ValidatedSeries != "–,1,5" || d.Teams[0].OpenNow != 6 || d.Teams[0].Validated != 5 {
		t.Errorf("build: teams = %+v, want team-data with open paths 3,5,6, validated –,1,5, 6 now, 5 validated", d.Teams)
	}
	if tr := d.Teams[0].Trend; len(tr.Lines) != 2 || len(strings.Fields(tr.Lines[0].Points)) != 3 || len(strings.Fields(tr.Lines[1].Points)) != 2 {
		t.Errorf("build: team-data's trend = %+v, want 3 open and 2 validated points", tr)
	}
	if n := len(d.PathsChart.Lines[1].Dots); n != 2 {
		t.Errorf("build: the validated line has %d points, want 2 (the first week unknown)", n)
	}
}
