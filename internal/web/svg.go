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
		if i%every == 0 || i == len(pts)-1 {
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
	N                    int
	X1, Y1, X2, Y2       float64
	LX, LY               float64
	Rule, Prob, Evidence string
	Exposures            int
	Class                string
	Title                string
}

const (
	nodeW, nodeH, gapW = 170.0, 58.0, 170.0
)

// layoutPath places a path's states in one row, a step between each two.
func layoutPath(p graph.Path, chokes map[string]bool) pathGraph {
	states := []string{p.Entry}
	for _, s := range p.Steps {
		states = append(states, s.To)
	}
	g := pathGraph{W: int(20 + float64(len(states))*(nodeW+gapW) - gapW + 20), H: 190}
	y := 70.0
	for i, st := range states {
		x := 20 + float64(i)*(nodeW+gapW)
		capab, asset, ok := strings.Cut(st, ":")
		if !ok {
			capab, asset = "", st
		}
		n := gnode{N: i, X: x, Y: y, W: nodeW, H: nodeH, TX: x + 8, TY: y + 20, Capability: capab, Label: shortKey(asset, 24), Title: st, Class: "state"}
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
		x1 := 20 + float64(i)*(nodeW+gapW) + nodeW
		e := gedge{N: i + 1, X1: x1, Y1: y + nodeH/2, X2: x1 + gapW - 6, Y2: y + nodeH/2, LX: x1 + gapW/2, LY: y - 30,
			Rule: shortKey(s.Rule, 26), Prob: fmt.Sprintf("p=%.2f", s.Probability), Evidence: headOf(strings.Join(s.Evidence, ", "), 30),
			Exposures: len(s.ExposureIDs), Class: "step",
			Title: fmt.Sprintf("step %d: %s, probability %.2f; evidence: %s; exposures: %s", i+1, s.Rule, s.Probability, strings.Join(s.Evidence, ", "), strings.Join(s.ExposureIDs, ", "))}
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
