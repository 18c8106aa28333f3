package ingest

import (
	"bytes"
	"encoding/xml"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// SniffKind is the broad syntax of an input.
type SniffKind int

// The syntaxes detection tells apart.
const (
	SniffText SniffKind = iota
	SniffJSONObject
	SniffJSONArray
	SniffXML
	SniffYAML
)

// Sniff is what detection learns from the head of an input (its first 64
// KiB) without reading further. For JSON it records the paths of the first
// top-level value up to depth 4, following only the first element of each
// array: "SchemaVersion", "runs[].tool.driver.name", and for a top-level
// array "[].Target". Scalars keep their text (cut at 256 bytes); objects
// and arrays map to "".
type Sniff struct {
	Kind SniffKind
	// Paths maps JSON paths of the first value to their scalar text.
	Paths map[string]string
	// Stream is true when another top-level JSON value follows the first
	// (JSON lines, or concatenated objects).
	Stream bool
	// XMLRoot is the name of the root element of an XML input.
	XMLRoot xml.Name
	// Head is the raw head.
	Head []byte
}

// Has reports whether the JSON path p occurs in the head.
func (s *Sniff) Has(p string) bool { _, ok := s.Paths[p]; return ok }

// Get returns the scalar text at JSON path p, or "".
func (s *Sniff) Get(p string) string { return s.Paths[p] }

// HasAll reports whether every path occurs.
func (s *Sniff) HasAll(paths ...string) bool {
	for _, p := range paths {
		if !s.Has(p) {
			return false
		}
	}
	return true
}

// HasAny reports whether one of the paths occurs.
func (s *Sniff) HasAny(paths ...string) bool {
	for _, p := range paths {
		if s.Has(p) {
			return true
		}
	}
	return false
}

// SniffBytes examines head, the beginning of an input.
func SniffBytes(head []byte) *Sniff {
	s := &Sniff{Head: head, Paths: map[string]string{}}
	trimmed := bytes.TrimLeft(head, " \t\r\n\ufeff")
	trimmed = bytes.TrimPrefix(trimmed, []byte("\xef\xbb\xbf"))
	trimmed = bytes.TrimLeft(trimmed, " \t\r\n")
	if len(trimmed) == 0 {
		return s
	}
	switch trimmed[0] {
	case '{', '[':
		if trimmed[0] == '{' {
			s.Kind = SniffJSONObject
		} else {
			s.Kind = SniffJSONArray
		}
		s.sniffJSON(trimmed)
	case '<':
		s.sniffXML(trimmed)
	default:
		if looksYAML(trimmed) {
			s.Kind = SniffYAML
		}
	}
	return s
}

func (s *Sniff) sniffJSON(b []byte) {
	dec := jsontext.NewDecoder(bytes.NewReader(b), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	// stack of path prefixes; each frame knows whether it is an array and
	// whether its first element has been seen.
	type frame struct {
		path    string
		array   bool
		n       int
		pending string // object: the name read, awaiting its value
	}
	var stack []frame
	const maxDepth = 5
	record := func(v string, isScalar bool) (path string, keep bool) {
		if len(stack) == 0 {
			return "", true
		}
		top := &stack[len(stack)-1]
		if top.array {
			top.n++
			if top.n > 1 {
				return "", false
			}
			path = top.path + "[]"
		} else {
			path = top.pending
			if top.path != "" {
				path = top.path + "." + top.pending
			}
		}
		if !isScalar {
			return path, true
		}
		if len(stack) <= maxDepth {
			if _, seen := s.Paths[path]; !seen {
				s.Paths[path] = v
			}
		}
		return path, true
	}
	// skipDepth > 0 while inside a value that is not recorded.
	skipDepth := 0
	for {
		tok, err := dec.ReadToken()
		if err != nil {
			return // end of the head, truncated or not
		}
		k := tok.Kind()
		if skipDepth > 0 {
			switch k {
			case '{', '[':
				skipDepth++
			case '}', ']':
				skipDepth--
			}
			continue
		}
		// An object name?
		if k == '"' && len(stack) > 0 && !stack[len(stack)-1].array && stack[len(stack)-1].pending == "" {
			stack[len(stack)-1].pending = tok.String()
			continue
		}
		switch k {
		case '{', '[':
			path, keep := record("", false)
			if keep && path != "" {
				// A container is recorded even where detection does not
				// descend into it.
				if _, seen := s.Paths[path]; !seen {
					s.Paths[path] = ""
				}
			}
			if !keep || len(stack) >= maxDepth {
				skipDepth = 1
				if len(stack) > 0 && !stack[len(stack)-1].array {
					stack[len(stack)-1].pending = ""
				}
				continue
			}
			if len(stack) > 0 {
				if !stack[len(stack)-1].array {
					stack[len(stack)-1].pending = ""
				}
			}
			stack = append(stack, frame{path: path, array: k == '['})
		case '}', ']':
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				// The first top-level value is complete; is there another?
				if dec.PeekKind() != 0 {
					s.Stream = true
				}
				return
			}
		default:
			text := tok.String()
			if len(text) > 256 {
				text = text[:256]
			}
			record(text, true)
			if len(stack) > 0 && !stack[len(stack)-1].array {
				stack[len(stack)-1].pending = ""
			}
			if len(stack) == 0 {
				return
			}
		}
	}
}

func (s *Sniff) sniffXML(b []byte) {
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.Strict = false
	for range 64 {
		tok, err := dec.Token()
		if err != nil {
			return
		}
		if se, ok := tok.(xml.StartElement); ok {
			s.Kind = SniffXML
			s.XMLRoot = se.Name
			return
		}
	}
}

// looksYAML accepts text whose first non-comment line is a YAML document
// marker or a "key:" mapping entry.
func looksYAML(b []byte) bool {
	for line := range strings.SplitSeq(string(b), "\n") {
		line = strings.TrimRight(line, "\r")
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if t == "---" || strings.HasPrefix(t, "--- ") {
			return true
		}
		if i := strings.Index(t, ":"); i > 0 && !strings.ContainsAny(t[:i], " \t{}[]\"'") {
			return true
		}
		return strings.HasPrefix(t, "- ")
	}
	return false
}
