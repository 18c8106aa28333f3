package cli

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"strings"
	"text/tabwriter"
	"unicode"
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
		tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
		hdr := make([]string, len(cols))
		for i, c := range cols {
			hdr[i] = c.header
		}
		fmt.Fprintln(tw, strings.Join(hdr, "\t"))
		for v, err := range seq {
			if err != nil {
				return n, err
			}
			row := make([]string, len(cols))
			for i, c := range cols {
				width := c.width
				if wide {
					width = 0
				}
				row[i] = cell(c.value(v), width)
			}
			fmt.Fprintln(tw, strings.Join(row, "\t"))
			n++
		}
		return n, tw.Flush()
	}
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

// listOut is the writer listings go to: stdout, marked wide with --wide.
func (e *env) listOut() io.Writer {
	if e.wide {
		return wideWriter{e.stdout}
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
