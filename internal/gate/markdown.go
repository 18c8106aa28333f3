package gate

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/policy"
)

// WriteMarkdown writes the report as a pull-request comment: the verdict,
// each new attack path as a Mermaid flowchart with its steps, the new KEV
// exposures and the fix. Text from the inputs (asset keys, titles) is
// escaped so that it cannot close a table cell or inject markup.
func WriteMarkdown(w io.Writer, r *Report) error {
	bw := bufio.NewWriter(w)
	if r.Failed() {
		fmt.Fprintf(bw, "## ctem gate: failed\n\nThis change introduces %s.\n\n", strings.Join(r.Reasons(), " and "))
	} else {
		fmt.Fprintf(bw, "## ctem gate: passed\n\nThis change opens no new attack path to a crown jewel and adds no known exploited vulnerability on an internet-facing asset.\n\n")
	}
	fmt.Fprintf(bw, "Open attack paths: %d on the base, %d with the change (%d new, %d closed).\n\n", r.BasePaths, r.ChangePaths, len(r.NewPaths), r.ClosedPaths)
	for i, p := range r.NewPaths {
		fmt.Fprintf(bw, "### New path %d to `%s`\n\n", i+1, code(p.Jewel))
		fmt.Fprintf(bw, "Risk %.2f, likelihood %.3f%s.\n\n", p.Risk, p.Likelihood, validated(p))
		fmt.Fprintln(bw, "```mermaid")
		if err := graph.WriteMermaid(bw, []graph.Path{p}); err != nil {
			return err
		}
		fmt.Fprintln(bw, "```")
		fmt.Fprintln(bw)
		fmt.Fprintln(bw, "| step | to | rule | probability | through |")
		fmt.Fprintln(bw, "|---|---|---|---|---|")
		for j, s := range p.Steps {
			var via []string
			for _, id := range s.ExposureIDs {
				if n, ok := r.Names[id]; ok {
					via = append(via, n)
				}
			}
			fmt.Fprintf(bw, "| %d | %s | %s | %.2f | %s |\n", j+1, cell(s.To), cell(s.Rule), s.Probability, cell(strings.Join(via, ", ")))
		}
		fmt.Fprintln(bw)
	}
	if len(r.NewKEV) > 0 {
		fmt.Fprintln(bw, "### New known exploited vulnerabilities on internet-facing assets")
		fmt.Fprintln(bw)
		fmt.Fprintln(bw, "| CVE | asset | package | fixed in | reached through | CISA due date |")
		fmt.Fprintln(bw, "|---|---|---|---|---|---|")
		for _, k := range r.NewKEV {
			due := ""
			if !k.KEV.DueDate.IsZero() {
				due = k.KEV.DueDate.Format("2006-01-02")
			}
			fmt.Fprintf(bw, "| %s | %s | %s | %s | %s | %s |\n", cell(k.CVE), cell(k.Exposure.Asset), cell(k.Exposure.Package.Name),
				cell(k.Exposure.Package.FixedVersion), cell(k.Via), due)
		}
		fmt.Fprintln(bw)
	}
	for _, ms := range []struct {
		title string
		ms    []policy.Match
	}{{"Fail policies matched", r.Policies}, {"Warn policies matched", r.Warnings}} {
		if len(ms.ms) == 0 {
			continue
		}
		fmt.Fprintf(bw, "### %s\n\n| policy | on | subject | because |\n|---|---|---|---|\n", ms.title)
		for _, m := range ms.ms {
			fmt.Fprintf(bw, "| %s | %s | %s | %s |\n", cell(m.Policy), m.On, cell(m.Subject), cell(strings.Join(m.Because, ", ")))
		}
		fmt.Fprintln(bw)
	}
	if len(r.Fix) > 0 {
		fmt.Fprintln(bw, "### The fix")
		fmt.Fprintln(bw)
		for _, it := range r.Fix {
			owner := ""
			if it.Owner != "" {
				owner = " (owner " + cell(it.Owner) + ")"
			}
			fmt.Fprintf(bw, "- %s%s: removes risk %.2f\n", cell(it.Title), owner, it.RiskRemoved)
		}
		fmt.Fprintln(bw)
	}
	return bw.Flush()
}

func validated(p graph.Path) string {
	if p.Validated {
		return ", every step evidenced"
	}
	return ""
}

// cell escapes text for a Markdown table cell.
func cell(s string) string {
	r := strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ", "<", "&lt;", ">", "&gt;", "`", "'", "[", `\[`, "]", `\]`)
	return r.Replace(s)
}

// code escapes text for an inline code span.
func code(s string) string { return strings.NewReplacer("`", "'", "\n", " ").Replace(s) }
