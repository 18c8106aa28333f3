package graph

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteJSON writes paths as a JSON array in the contract's form, one
// object per path with its steps.
func WriteJSON(w io.Writer, paths []Path) error {
	if paths == nil {
		paths = []Path{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(paths)
}

// dotQuote returns s as a DOT double-quoted string: backslashes and
// quotes escaped, line breaks and other control characters written as
// spaces, so that attacker-controlled keys cannot end the string.
func dotQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || r == 0x2028 || r == 0x2029:
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// mermaidText returns s for a Mermaid quoted label: every character but
// letters, digits, space and ":/._-@" is written as an entity code
// (#34; for a quote), so that no text can close the label or inject
// markup.
func mermaidText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune(" :/._-@", r):
			b.WriteRune(r)
		default:
			b.WriteString("#" + strconv.Itoa(int(r)) + ";")
		}
	}
	return b.String()
}

// nodeIDs numbers the states of paths in order of first appearance, so
// node ids never contain input text.
func nodeIDs(paths []Path) (ids map[string]string, order []string) {
	ids = map[string]string{}
	add := func(s string) {
		if _, ok := ids[s]; !ok {
			ids[s] = "n" + strconv.Itoa(len(ids))
			order = append(order, s)
		}
	}
	for _, p := range paths {
		add(p.Entry)
		for _, s := range p.Steps {
			add(s.From)
			add(s.To)
		}
	}
	return ids, order
}

// WriteDOT writes paths as one Graphviz digraph: a node per state, an
// edge per step labelled with its rule and probability, entries as
// boxes and targets double-circled. Shared steps are drawn once.
func WriteDOT(w io.Writer, paths []Path) error {
	bw := bufio.NewWriter(w)
	ids, order := nodeIDs(paths)
	entry, target := map[string]bool{}, map[string]bool{}
	for _, p := range paths {
		entry[p.Entry], target[p.Target] = true, true
	}
	fmt.Fprintln(bw, "digraph attack_paths {")
	fmt.Fprintln(bw, "  rankdir=LR;")
	for _, s := range order {
		shape := "ellipse"
		switch {
		case target[s]:
			shape = "doublecircle"
		case entry[s]:
			shape = "box"
		}
		fmt.Fprintf(bw, "  %s [label=%s, shape=%s];\n", ids[s], dotQuote(s), shape)
	}
	seen := map[string]bool{}
	for _, p := range paths {
		for _, s := range p.Steps {
			k := s.From + "\x00" + s.To + "\x00" + s.Rule
			if seen[k] {
				continue
			}
			seen[k] = true
			fmt.Fprintf(bw, "  %s -> %s [label=%s];\n", ids[s.From], ids[s.To], dotQuote(s.Rule+" "+strconv.FormatFloat(s.Probability, 'f', 2, 64)))
		}
	}
	fmt.Fprintln(bw, "}")
	return bw.Flush()
}

// WriteMermaid writes paths as one Mermaid flowchart, with the same
// nodes and edges as WriteDOT.
func WriteMermaid(w io.Writer, paths []Path) error {
	bw := bufio.NewWriter(w)
	ids, order := nodeIDs(paths)
	fmt.Fprintln(bw, "flowchart LR")
	for _, s := range order {
		fmt.Fprintf(bw, "  %s[\"%s\"]\n", ids[s], mermaidText(s))
	}
	seen := map[string]bool{}
	for _, p := range paths {
		for _, s := range p.Steps {
			k := s.From + "\x00" + s.To + "\x00" + s.Rule
			if seen[k] {
				continue
			}
			seen[k] = true
			fmt.Fprintf(bw, "  %s -->|\"%s\"| %s\n", ids[s.From], mermaidText(s.Rule+" "+strconv.FormatFloat(s.Probability, 'f', 2, 64)), ids[s.To])
		}
	}
	return bw.Flush()
}
