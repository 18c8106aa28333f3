package web

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"math"
	"net/url"
	"strings"

	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/server"
)

// The charts and graphs are drawn on the server as SVG, by templates
// from the coordinates computed here: numbers only, every text escaped
// by html/template, styled by classes of the stylesheet (no inline
// style, which the Content-Security-Policy forbids).

var randReader = rand.Reader

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

type point struct {
	Label string
	V     float64
}

type tick struct {
	X, Y float64
	Text string
}

// chart is a line chart: the polyline's points, the axis ticks, and the
// dots with their values (for a tooltip and for tests).
type chart struct {
	W, H   int
	Line   string
	Dots   []tick
	XTicks []tick
	YTicks []tick
	Empty  bool
}

// lineChart draws pts left to right, from 0 to their maximum.
func lineChart(pts []point, w, h int) chart {
	c := chart{W: w, H: h}
	if len(pts) == 0 {
		c.Empty = true
		return c
	}
	const left, right, top, bottom = 40.0, 10.0, 10.0, 22.0
	maxV := 0.0
	for _, p := range pts {
		maxV = math.Max(maxV, p.V)
	}
	if maxV == 0 {
		maxV = 1
	}
	pw, ph := float64(w)-left-right, float64(h)-top-bottom
	var b strings.Builder
	every := max(1, len(pts)/6)
	for i, p := range pts {
		x := left
		if len(pts) > 1 {
			x += pw * float64(i) / float64(len(pts)-1)
		}
		y := top + ph*(1-p.V/maxV)
		fmt.Fprintf(&b, "%.1f,%.1f ", x, y)
		c.Dots = append(c.Dots, tick{x, y, fmt.Sprintf("%s: %g", p.Label, round2(p.V))})
		// Every few periods a label, and the last, without two too close.
		if i == len(pts)-1 || i%every == 0 && len(pts)-1-i >= every {
			c.XTicks = append(c.XTicks, tick{x, float64(h) - 6, p.Label})
		}
	}
	c.Line = strings.TrimSpace(b.String())
	for _, f := range []float64{0, 0.5, 1} {
		c.YTicks = append(c.YTicks, tick{left - 6, top + ph*(1-f) + 4, fmt.Sprintf("%g", round2(maxV*f))})
	}
	return c
}

// sparkline is a small line chart without axes.
func sparkline(pts []point, w, h int) chart {
	c := lineChart(pts, w, h)
	c.XTicks, c.YTicks = nil, nil
	if c.Empty {
		return c
	}
	maxV := 0.0
	for _, p := range pts {
		maxV = math.Max(maxV, p.V)
	}
	if maxV == 0 {
		maxV = 1
	}
	var b strings.Builder
	for i, p := range pts {
		x := 2.0
		if len(pts) > 1 {
			x += float64(w-4) * float64(i) / float64(len(pts)-1)
		}
		fmt.Fprintf(&b, "%.1f,%.1f ", x, 2+float64(h-4)*(1-p.V/maxV))
	}
	c.Line, c.Dots = strings.TrimSpace(b.String()), nil
	return c
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// pathGraph is an attack path drawn left to right: its states as nodes
// (entry first, crown jewel last) and its steps as labelled edges.
type pathGraph struct {
	W, H  int
	Nodes []gnode
	Edges []gedge
}

type gnode struct {
	N          int
	X, Y, W, H float64
	// TX and TY place the text.
	TX, TY     float64
	Capability string
	Label      string
	Title      string
	Href       string
	Class      string
}

type gedge struct {
	// Points is the arrow's polyline; BY is the line's height where the
	// labels below it go.
	Points               string
	BY                   float64
	N                    int
	X1, Y1, X2, Y2       float64
	LX, LY               float64
	Rule, Prob, Evidence string
	Exposures            int
	Class                string
	Title                string
}

const (
	nodeW, nodeH, gapW = 150.0, 58.0, 130.0
	// perRow states fit a laptop's width (1366 px) on one row; a longer
	// path goes on in the next row, still left to right.
	perRow      = 5
	rowH        = 170.0
	marginX     = 20.0
	marginY     = 50.0
	wrapDrop    = 56.0
	labelAbove  = 30.0
	labelBelow  = 20.0
	labelBelow2 = 34.0
)

// layoutPath places a path's states left to right, perRow to a row, a
// step between each two: on the same row a straight arrow with its
// labels above (rule, probability) and below (evidence, exposures); from
// a row's end to the next row's start an elbow, labelled on its
// horizontal leg.
func layoutPath(p graph.Path, chokes map[string]bool) pathGraph {
	states := []string{p.Entry}
	for _, s := range p.Steps {
		states = append(states, s.To)
	}
	cols := min(len(states), perRow)
	rows := (len(states) + perRow - 1) / perRow
	g := pathGraph{W: int(2*marginX + float64(cols)*nodeW + float64(cols-1)*gapW), H: int(marginY + float64(rows)*rowH - (rowH - nodeH) + 60)}
	pos := func(i int) (float64, float64) {
		return marginX + float64(i%perRow)*(nodeW+gapW), marginY + float64(i/perRow)*rowH
	}
	for i, st := range states {
		x, y := pos(i)
		capab, asset, ok := strings.Cut(st, ":")
		if !ok {
			capab, asset = "", st
		}
		n := gnode{N: i, X: x, Y: y, W: nodeW, H: nodeH, TX: x + 8, TY: y + 20, Capability: capab, Label: shortKey(asset, 19), Title: st, Class: "state"}
		if asset != "" && asset != "internet" && ok {
			n.Href = "/assets/" + pathEscape(asset)
		}
		switch {
		case i == 0:
			n.Class += " entry"
		case i == len(states)-1:
			n.Class += " jewel"
		}
		g.Nodes = append(g.Nodes, n)
	}
	for i, s := range p.Steps {
		x1, y1 := pos(i)
		x2, y2 := pos(i + 1)
		e := gedge{N: i + 1, Rule: shortKey(s.Rule, 24), Prob: fmt.Sprintf("p=%.2f", s.Probability), Evidence: headOf(strings.Join(s.Evidence, ", "), 22),
			Exposures: len(s.ExposureIDs), Class: "step",
			Title: fmt.Sprintf("step %d: %s, probability %.2f; evidence: %s; exposures: %s", i+1, s.Rule, s.Probability, strings.Join(s.Evidence, ", "), strings.Join(s.ExposureIDs, ", "))}
		if y1 == y2 {
			ay := y1 + nodeH/2
			e.Points = fmt.Sprintf("%.1f,%.1f %.1f,%.1f", x1+nodeW, ay, x2-6, ay)
			e.LX, e.LY, e.BY = x1+nodeW+gapW/2, ay-labelAbove, ay
		} else {
			// From the bottom of the row's last state down, left along the
			// gap between the rows, and down into the next row's first.
			mid := y1 + nodeH + wrapDrop
			cx1, cx2 := x1+nodeW/2, x2+nodeW/2
			e.Points = fmt.Sprintf("%.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f", cx1, y1+nodeH, cx1, mid, cx2, mid, cx2, y2-6)
			e.LX, e.LY, e.BY = (cx1+cx2)/2, mid-labelAbove+4, mid
		}
		if chokes[s.From+" -> "+s.To] {
			e.Class += " choke"
		}
		g.Edges = append(g.Edges, e)
	}
	return g
}

// shortKey shortens a long key in the middle-out way a reader needs: the
// end (the name) matters more than the start (the cluster, the account).
func shortKey(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return "…" + string(r[len(r)-n+1:])
}

// headOf keeps the start of a text (evidence reads best from its first
// fact).
func headOf(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func pathEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(urlPathEscape(s), "%2F", "/"), "%3A", ":")
}

// neighbourGraph is an asset with its relations: incoming on the left,
// outgoing on the right.
type neighbourGraph struct {
	W, H   int
	Center gnode
	Nodes  []gnode
	Edges  []gedge
	More   int
}

const maxNeighbours = 12

func layoutNeighbours(a server.AssetDetail) neighbourGraph {
	in, out := a.Incoming, a.Outgoing
	more := 0
	if len(in) > maxNeighbours {
		more += len(in) - maxNeighbours
		in = in[:maxNeighbours]
	}
	if len(out) > maxNeighbours {
		more += len(out) - maxNeighbours
		out = out[:maxNeighbours]
	}
	rows := max(len(in), len(out), 1)
	const rowH = 44.0
	g := neighbourGraph{W: 3*nodeW + 2*gapW + 40, H: int(float64(rows)*rowH + 40), More: more}
	cy := float64(g.H)/2 - nodeH/2
	cx := 20 + nodeW + gapW
	g.Center = gnode{X: cx, Y: cy, W: nodeW, H: nodeH, TX: cx + 8, TY: cy + 20, Capability: string(a.Kind), Label: shortKey(a.Key, 24), Title: a.Key, Class: "state center"}
	place := func(rels []server.AssetRelation, x float64, left bool) {
		for i, rel := range rels {
			y := 20 + float64(i)*rowH
			n := gnode{X: x, Y: y, W: nodeW, H: 32, TX: x + 8, TY: y + 20, Label: shortKey(rel.Asset, 24), Title: rel.Asset, Href: "/assets/" + pathEscape(rel.Asset), Class: "state small"}
			g.Nodes = append(g.Nodes, n)
			label := rel.Type
			if rel.Action != "" {
				label += "(" + rel.Action + ")"
			}
			e := gedge{Rule: shortKey(label, 24), Class: "rel", Title: label}
			if left {
				e.X1, e.Y1, e.X2, e.Y2 = x+nodeW, y+16, cx-6, cy+nodeH/2
			} else {
				e.X1, e.Y1, e.X2, e.Y2 = cx+nodeW, cy+nodeH/2, x-6, y+16
			}
			e.LX, e.LY = (e.X1+e.X2)/2, (e.Y1+e.Y2)/2-4
			g.Edges = append(g.Edges, e)
		}
	}
	place(in, 20, true)
	place(out, cx+nodeW+gapW, false)
	return g
}

func urlPathEscape(s string) string { return url.PathEscape(s) }
