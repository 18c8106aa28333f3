package web

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/ctem-dev/ctem/internal/kpi"
)

// series is one named line of a multiChart; a NaN value is unknown and
// left out of the line.
type series struct {
	Name string
	V    []float64
}

// mchart is a line chart of several series on shared axes, each line of
// class s0, s1, ... (the stylesheet's colours) with a legend of its name.
type mchart struct {
	W, H   int
	Lines  []mline
	XTicks []tick
	YTicks []tick
	Empty  bool
}

type mline struct {
	Class  string
	Name   string
	Points string
	Dots   []tick
	// LX and LY place the legend's swatch and name.
	LX, LY float64
}

// seriesClasses is how many line classes the stylesheet colours; more
// series reuse them.
const seriesClasses = 6

// multiChart draws series over the labels (one x position per label),
// from 0 to their largest known value.
func multiChart(labels []string, ss []series, w, h int) mchart {
	c := mchart{W: w, H: h}
	maxV, known := 0.0, false
	for _, s := range ss {
		for _, v := range s.V {
			if !math.IsNaN(v) {
				maxV, known = math.Max(maxV, v), true
			}
		}
	}
	if len(labels) == 0 || !known {
		c.Empty = true
		return c
	}
	if maxV == 0 {
		maxV = 1
	}
	const left, right, top, bottom, legendH = 40.0, 22.0, 10.0, 22.0, 18.0
	rows := (len(ss) + 2) / 3
	c.H = h + int(legendH)*rows
	pw, ph := float64(w)-left-right, float64(h)-top-bottom
	x := func(i int) float64 {
		if len(labels) == 1 {
			return left + pw/2
		}
		return left + pw*float64(i)/float64(len(labels)-1)
	}
	every := max(1, len(labels)/6)
	for i, l := range labels {
		if i == len(labels)-1 || i%every == 0 && len(labels)-1-i >= every {
			c.XTicks = append(c.XTicks, tick{x(i), float64(h) - 6, l})
		}
	}
	for _, f := range []float64{0, 0.5, 1} {
		c.YTicks = append(c.YTicks, tick{left - 6, top + ph*(1-f) + 4, fmt.Sprintf("%g", round2(maxV*f))})
	}
	for n, s := range ss {
		ln := mline{Class: fmt.Sprintf("s%d", n%seriesClasses), Name: s.Name,
			LX: left + float64(n%3)*pw/3, LY: float64(h) + legendH*float64(n/3) + 12}
		var b strings.Builder
		for i, v := range s.V {
			if math.IsNaN(v) || i >= len(labels) {
				continue
			}
			y := top + ph*(1-v/maxV)
			fmt.Fprintf(&b, "%.1f,%.1f ", x(i), y)
			ln.Dots = append(ln.Dots, tick{x(i), y, fmt.Sprintf("%s %s: %g", s.Name, labels[i], round2(v))})
		}
		ln.Points = strings.TrimSpace(b.String())
		c.Lines = append(c.Lines, ln)
	}
	return c
}

// bars is a horizontal bar chart of the time to remediate: per row (a
// band or a severity) a bar for the mean and one for the 90th
// percentile, in days.
type bars struct {
	W, H  int
	Rows  []barRow
	Empty bool
}

type barRow struct {
	Label string
	TY    float64
	Bars  []bar
}

type bar struct {
	Class      string
	X, Y, W, H float64
	// TX places the value's text after the bar.
	TX, TY float64
	Text   string
	Title  string
}

func remediationBars(ms []kpi.Remediation, label func(kpi.Remediation) string) bars {
	const w, left, right, barH, gap = 460.0, 80.0, 70.0, 9.0, 10.0
	b := bars{W: int(w)}
	if len(ms) == 0 {
		b.Empty = true
		return b
	}
	var most time.Duration
	for _, m := range ms {
		most = max(most, m.Mean, m.P90)
	}
	if most <= 0 {
		most = 1
	}
	y := 6.0
	for _, m := range ms {
		row := barRow{Label: label(m), TY: y + barH + 3}
		for i, v := range []time.Duration{m.Mean, m.P90} {
			name := [...]string{"mean", "90th percentile"}[i]
			bw := (w - left - right) * float64(v) / float64(most)
			row.Bars = append(row.Bars, bar{Class: [...]string{"s0", "s1"}[i], X: left, Y: y, W: math.Max(bw, 1), H: barH,
				TX: left + math.Max(bw, 1) + 4, TY: y + barH - 1, Text: days(v),
				Title: fmt.Sprintf("%s %s: %s (%d fixed)", label(m), name, days(v), m.Fixed)})
			y += barH + 1
		}
		b.Rows = append(b.Rows, row)
		y += gap
	}
	b.H = int(y)
	return b
}

// days writes a duration in days (hours under one day).
func days(d time.Duration) string {
	if d.Hours() < 24 {
		return fmt.Sprintf("%.1f h", d.Hours())
	}
	return fmt.Sprintf("%.1f d", d.Hours()/24)
}

// shareBar is a proportion drawn as a filled part of a bar.
type shareBar struct {
	W, H   int
	Filled float64
	Text   string
}

func newShareBar(share float64, w, h int) shareBar {
	share = math.Min(math.Max(share, 0), 1)
	return shareBar{W: w, H: h, Filled: math.Round(float64(w)*share*10) / 10, Text: fmt.Sprintf("%.0f%%", share*100)}
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// sparkChart is a small chart without axes of a breakdown's open paths
// (class s0) and validated paths (class s1, NaN values left out), on the
// same scale.
func sparkChart(open, validated []float64, w, h int) mchart {
	c := mchart{W: w, H: h}
	maxV, known := 0.0, false
	for _, v := range slices.Concat(open, validated) {
		if !math.IsNaN(v) {
			maxV, known = math.Max(maxV, v), true
		}
	}
	if !known {
		c.Empty = true
		return c
	}
	if maxV == 0 {
		maxV = 1
	}
	for n, vs := range [][]float64{open, validated} {
		var b strings.Builder
		for i, v := range vs {
			if math.IsNaN(v) {
				continue
			}
			x := 2.0
			if len(vs) > 1 {
				x += float64(w-4) * float64(i) / float64(len(vs)-1)
			}
			fmt.Fprintf(&b, "%.1f,%.1f ", x, 2+float64(h-4)*(1-v/maxV))
		}
		c.Lines = append(c.Lines, mline{Class: fmt.Sprintf("s%d", n), Name: [...]string{"open", "validated"}[n], Points: strings.TrimSpace(b.String())})
	}
	return c
}
