package cli

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"

	"golang.org/x/term"
)

// Output formats of listings.
const (
	outTable = "table"
	outJSON  = "json"
	outCSV   = "csv"
)

// column is one column of a table or CSV listing.
type column[T any] struct {
	header string
	width  int // maximum width in a table; 0 for no limit
	value  func(T) string
}

// checkOutput validates -o against the formats a command offers.
func checkOutput(got string, allowed ...string) error {
	for _, a := range allowed {
		if got == a {
			return nil
		}
	}
	return usage(fmt.Errorf("unknown output format %q (want %s)", got, strings.Join(allowed, ", ")))
}

// writeListing writes the records of seq to w as a table, a JSON array or
// CSV. A JSON listing is always an array, "[]" when empty. Records are
// written as they come: a listing of a million findings is never held in
// memory.
func writeListing[T any](w io.Writer, format string, seq iter.Seq2[T, error], cols []column[T]) (n int, err error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	defer func() {
		if ferr := bw.Flush(); err == nil {
			err = ferr
		}
	}()
	switch format {
	case outJSON:
		bw.WriteString("[")
		for v, err := range seq {
			if err != nil {
				return n, err
			}
			b, err := json.MarshalIndent(v, "  ", "  ")
			if err != nil {
				return n, err
			}
			if n > 0 {
				bw.WriteString(",")
			}
			bw.WriteString("\n  ")
			bw.Write(b)
			n++
		}
		if n > 0 {
			bw.WriteString("\n")
		}
		bw.WriteString("]\n")
		return n, nil
	case outCSV:
		cw := csv.NewWriter(bw)
		hdr := make([]string, len(cols))
		for i, c := range cols {
			hdr[i] = strings.ToLower(strings.ReplaceAll(c.header, " ", "_"))
		}
		cw.Write(hdr)
		for v, err := range seq {
			if err != nil {
				return n, err
			}
			row := make([]string, len(cols))
			for i, c := range cols {
				row[i] = csvSafe(c.value(v))
			}
			cw.Write(row)
			n++
		}
		cw.Flush()
		return n, cw.Error()
	default:
		_, wide := w.(wideWriter)
		fit := 0
		if t, ok := w.(termWriter); ok {
			fit = t.width
		}
		widths := make([]int, len(cols))
		for i, c := range cols {
			if !wide {
				widths[i] = c.width
			}
		}
		tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
		hdr := make([]string, len(cols))
		for i, c := range cols {
			hdr[i] = c.header
		}
		// On a terminal, the first rows set the widths that fit it.
		var head [][]string
		next, stop := iter.Pull2(iter.Seq2[T, error](seq))
		defer stop()
		if fit > 0 {
			for len(head) < fitRows {
				v, err, ok := next()
				if !ok {
					break
				}
				if err != nil {
					return n, err
				}
				row := make([]string, len(cols))
				for i, c := range cols {
					row[i] = cell(c.value(v), 0)
				}
				head = append(head, row)
			}
			widths = fitWidths(fit, hdr, head, widths)
		}
		fmt.Fprintln(tw, strings.Join(hdr, "\t"))
		for _, row := range head {
			for i := range row {
				row[i] = cell(row[i], widths[i])
			}
			fmt.Fprintln(tw, strings.Join(row, "\t"))
			n++
		}
		for {
			v, err, ok := next()
			if !ok {
				break
			}
			if err != nil {
				return n, err
			}
			row := make([]string, len(cols))
			for i, c := range cols {
				row[i] = cell(c.value(v), widths[i])
			}
			fmt.Fprintln(tw, strings.Join(row, "\t"))
			n++
		}
		return n, tw.Flush()
	}
}

// fitRows is how many rows a table on a terminal reads before it sets
// its column widths.
const fitRows = 200

// fitWidths returns the column limits that make a table of these header
// and rows fit width runes, two spaces between columns: the columns that
// have a limit (limits[i] > 0) shrink in proportion to what they hold,
// to no less than 8 runes or their header; the others keep their
// values whole. When the table fits, limits are returned unchanged.
func fitWidths(width int, hdr []string, rows [][]string, limits []int) []int {
	natural := make([]int, len(hdr))
	for i, h := range hdr {
		natural[i] = utf8.RuneCountInString(h)
	}
	for _, r := range rows {
		for i, v := range r {
			natural[i] = max(natural[i], utf8.RuneCountInString(v))
		}
	}
	total, flexible := 2*(len(hdr)-1), 0
	for i := range natural {
		if limits[i] > 0 {
			natural[i] = min(natural[i], limits[i])
			flexible += natural[i]
		}
		total += natural[i]
	}
	if total <= width || flexible == 0 {
		return limits
	}
	room := flexible - (total - width)
	out := slices.Clone(limits)
	for i := range out {
		if limits[i] > 0 {
			floor := max(8, utf8.RuneCountInString(hdr[i]))
			out[i] = min(natural[i], max(floor, natural[i]*room/flexible))
		}
	}
	return out
}

// sanitize removes control characters (terminal escape sequences among
// them) from text that came from an input, keeping newlines and tabs.
func sanitize(s string) string {
	if strings.IndexFunc(s, isBadRune) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isBadRune(r) {
			return -1
		}
		return r
	}, s)
}

func isBadRune(r rune) bool {
	return r != '\n' && r != '\t' && (unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Bidi_Control, r))
}

// cell makes a table cell: one line, no control characters, at most width
// runes. A longer value loses its middle, not its end, so that an image
// key keeps its tag and a path its file name: "image:ghcr.io/aqu…:alpine-310".
func cell(s string, width int) string {
	s = strings.Join(strings.Fields(sanitize(s)), " ")
	if s == "" {
		return "-"
	}
	if width > 0 {
		if r := []rune(s); len(r) > width {
			head := (width - 1) / 2
			tail := width - 1 - head
			s = string(r[:head]) + "…" + string(r[len(r)-tail:])
		}
	}
	return s
}

// wideWriter marks the output of a command run with --wide: its tables
// cut no cell.
type wideWriter struct{ io.Writer }

// termWriter marks the output of a table on a terminal of width
// columns: its tables shrink their long columns to fit.
type termWriter struct {
	io.Writer
	width int
}

// listOut is the writer listings go to: stdout, marked wide with --wide,
// or with the terminal's width when stdout is one.
func (e *env) listOut() io.Writer {
	if e.wide {
		return wideWriter{e.stdout}
	}
	if f, ok := e.stdout.(interface{ Fd() uintptr }); ok && term.IsTerminal(int(f.Fd())) {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			return termWriter{e.stdout, w}
		}
	}
	return e.stdout
}

// csvSafe defuses spreadsheet formulas: a cell that starts with = + - @
// or a tab is prefixed with a quote, as OWASP advises for CSV injection.
func csvSafe(s string) string {
	s = sanitize(s)
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
