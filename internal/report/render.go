package report

import (
	"bytes"
	_ "embed"
	"fmt"
	htmltemplate "html/template"
	"io"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/ctem-dev/ctem/internal/graph"
)

//go:embed report.html.tmpl
var htmlSource string

//go:embed report.md.tmpl
var mdSource string

// funcs are the helpers both templates use; none of them escapes (the
// HTML template escapes by context, the Markdown one through md).
var funcs = map[string]any{
	"day":   day,
	"inc":   func(i int) int { return i + 1 },
	"time":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"days":  days,
	"pct":   func(f float64) string { return strconv.FormatFloat(100*f, 'f', 0, 64) + "%" },
	"num":   func(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) },
	"prob":  func(f float64) string { return strconv.FormatFloat(f, 'f', 3, 64) },
	"short": func(s string) string { return s[:min(len(s), 12)] },
	"weakness": func(r *Report, s graph.Step) string {
		if s.Weakness == "" {
			return ""
		}
		if n, ok := r.Names[s.Weakness]; ok {
			return n
		}
		return s.Weakness
	},
	"width": func(n, max int) int {
		if max <= 0 {
			return 0
		}
		return n * 100 / max
	},
	"maxOpen": func(r *Report) int {
		m := 0
		for _, p := range r.KPI.Periods {
			m = max(m, p.Open)
		}
		return m
	},
	"sparkline": sparkline,
	"openSeries": func(r *Report) []int {
		var out []int
		for _, p := range r.KPI.Periods {
			out = append(out, p.Open)
		}
		return out
	},
	"validatedSeries": func(r *Report) []int {
		var out []int
		for _, s := range r.KPI.Snapshots {
			out = append(out, s.ValidatedPaths)
		}
		return out
	},
	"validatedNow": validatedNow,
	"risk":         func(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) },
}

var (
	htmlTmpl = htmltemplate.Must(htmltemplate.New("report.html").Funcs(funcs).Parse(htmlSource))
	mdTmpl   = texttemplate.Must(texttemplate.New("report.md").Funcs(funcs).Funcs(texttemplate.FuncMap{"md": md}).Parse(mdSource))
)

// HTML writes the report as one self-contained HTML page. html/template
// escapes every string by its context, and the page's Content Security
// Policy allows no script, so hostile scanner text cannot run even where
// escaping were to miss.
func HTML(w io.Writer, r *Report) error {
	var b bytes.Buffer
	if err := htmlTmpl.Execute(&b, r); err != nil {
		return fmt.Errorf("render html report: %w", err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// Markdown writes the report as CommonMark with GitHub's tables. Every
// string from the data goes through md.
func Markdown(w io.Writer, r *Report) error {
	var b bytes.Buffer
	if err := mdTmpl.Execute(&b, r); err != nil {
		return fmt.Errorf("render markdown report: %w", err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// md makes s inert text in Markdown, in a paragraph, a list item or a
// table cell: line breaks become spaces, HTML's special characters become
// entities (no raw HTML reaches a renderer that passes it through), and
// the characters that start emphasis, code, links, images, tables and
// headings are escaped with a backslash, which CommonMark defines for
// every ASCII punctuation character. Parentheses need none: a link or an
// image needs a bracket first, and every bracket is escaped.
func md(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, c := range s {
		switch c {
		case '\r', '\n', '\t':
			b.WriteByte(' ')
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		case '\\', '`', '*', '_', '[', ']', '|', '!', '~', '#', '{', '}':
			b.WriteByte('\\')
			b.WriteRune(c)
		default:
			if c < 0x20 || c == 0x7f {
				continue
			}
			b.WriteRune(c)
		}
	}
	return b.String()
}

func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02")
}

func days(d time.Duration) string {
	return strconv.FormatFloat(d.Hours()/24, 'f', 1, 64) + " d"
}

// sparkline draws counts as block heights, one character each.
func sparkline(ns []int) string {
	levels := []rune(" ▁▂▃▄▅▆▇█")
	top := 0
	for _, n := range ns {
		top = max(top, n)
	}
	var b strings.Builder
	for _, n := range ns {
		k := 0
		if top > 0 {
			k = (n*(len(levels)-1) + top - 1) / top
		}
		b.WriteRune(levels[k])
	}
	return b.String()
}
