package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ctem-dev/ctem/internal/model"
)

func newGraphCmd(e *env) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "graph",
		Short: "Print the estate graph: assets and the relations between them, with the input each came from",
		Long: `Graph prints the correlated estate. -o json gives
{"nodes": [...assets...], "edges": [{"from", "to", "type", "source"}]};
-o dot gives Graphviz input.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, outJSON, "dot"); err != nil {
				return err
			}
			a, err := e.newApp(cmd.Context())
			if err != nil {
				return err
			}
			defer a.Store.Close()
			es, err := a.Estate(cmd.Context())
			if err != nil {
				return err
			}
			type edge struct {
				From   string `json:"from"`
				To     string `json:"to"`
				Type   string `json:"type"`
				Action string `json:"action,omitempty"`
				Source string `json:"source"`
			}
			edges := []edge{}
			for _, r := range es.Relations {
				edges = append(edges, edge{r.From, r.To, string(r.Type), r.Action, strings.Join(es.EdgeSources(r), ",")})
			}
			if output == "dot" {
				return writeDOT(e.stdout, es.Sorted(), es.Relations)
			}
			return writeJSON(e.stdout, struct {
				Nodes []model.Asset `json:"nodes"`
				Edges []edge        `json:"edges"`
			}{nonNil(es.Sorted()), edges})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", outJSON, "output format: json or dot")
	return cmd
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// dotQuote quotes s as a DOT string: every character that could end the
// string or start an escape is escaped, control characters dropped, so
// that names from reports cannot inject DOT syntax.
func dotQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range sanitize(s) {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n', '\t':
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func writeDOT(w io.Writer, nodes []model.Asset, rels []model.Relation) error {
	var b strings.Builder
	b.WriteString("digraph estate {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n")
	for _, n := range nodes {
		attrs := ""
		switch {
		case n.CrownJewel != nil:
			attrs = ", style=filled, fillcolor=\"#f6c3c3\""
		case n.InternetExposed:
			attrs = ", style=filled, fillcolor=\"#fbe6b3\""
		}
		fmt.Fprintf(&b, "  %s [label=%s%s];\n", dotQuote(n.Key), dotQuote(string(n.Kind)+"\n"+n.Key), attrs)
	}
	for _, r := range rels {
		label := string(r.Type)
		if r.Action != "" {
			label += " " + r.Action
		}
		fmt.Fprintf(&b, "  %s -> %s [label=%s];\n", dotQuote(r.From), dotQuote(r.To), dotQuote(label))
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}
