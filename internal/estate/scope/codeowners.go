package scope

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
)

// CodeOwners is a parsed CODEOWNERS file (GitHub, GitLab or Bitbucket):
// path patterns with their owners, in file order. The last matching rule
// wins, as on GitHub.
//
// To use it as ownership for a repository asset, turn its catch-all rule
// into an ownership rule and append it after the scope file's own rules,
// so that rules written in ctem.yaml win:
//
//	co, err := scope.ParseCODEOWNERS(f)
//	if rule, ok := co.Rule("github.com/org/shop"); ok {
//		s.Ownership = append(s.Ownership, rule)
//	}
//
// Owners gives the owners of one path in the repository, for code findings
// located in a file.
type CodeOwners struct {
	Rules []CodeOwnersRule
}

// CodeOwnersRule is one line of a CODEOWNERS file. A rule with no owners
// makes the paths it matches unowned.
type CodeOwnersRule struct {
	Pattern string
	Owners  []string
	Line    int
	re      *regexp.Regexp
}

// maxCODEOWNERS bounds a CODEOWNERS file: GitHub ignores one larger than
// 3 MB.
const maxCODEOWNERS = 3 << 20

// ParseCODEOWNERS reads a CODEOWNERS file. Comments, blank lines and
// GitLab section headers ("[Section]", whose default owners are ignored)
// are skipped; "\ " escapes a space in a pattern. Negated patterns ("!"),
// character ranges ("[a-z]"), which GitHub does not support, and a line
// with no pattern (a lone backslash) are errors naming the line, as is a
// file larger than 3 MiB, GitHub's own limit.
func ParseCODEOWNERS(r io.Reader) (*CodeOwners, error) {
	lr := &io.LimitedReader{R: r, N: maxCODEOWNERS + 1}
	sc := bufio.NewScanner(lr)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	co := &CodeOwners{}
	n := 1
	for ; sc.Scan(); n++ {
		if lr.N <= 0 {
			return nil, &Error{File: "CODEOWNERS", Msg: fmt.Sprintf("file larger than %d bytes (GitHub's limit)", maxCODEOWNERS)}
		}
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") || strings.HasPrefix(line, "^[") {
			continue
		}
		fields := splitEscaped(line)
		if len(fields) == 0 {
			return nil, &Error{File: "CODEOWNERS", Line: n, Column: 1, Msg: fmt.Sprintf("line %q holds no pattern", line)}
		}
		pattern := fields[0]
		var owners []string
		for _, f := range fields[1:] {
			if strings.HasPrefix(f, "#") {
				break
			}
			owners = append(owners, f)
		}
		if strings.HasPrefix(pattern, "!") || strings.ContainsAny(pattern, "[]") {
			return nil, &Error{File: "CODEOWNERS", Line: n, Column: 1, Msg: fmt.Sprintf("pattern %q: negation and character ranges are not supported", pattern)}
		}
		co.Rules = append(co.Rules, CodeOwnersRule{Pattern: pattern, Owners: owners, Line: n, re: codeOwnersRE(pattern)})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, &Error{File: "CODEOWNERS", Line: n, Msg: "line longer than 1 MiB"}
		}
		return nil, fmt.Errorf("read CODEOWNERS: %w", err)
	}
	if lr.N <= 0 {
		return nil, &Error{File: "CODEOWNERS", Msg: fmt.Sprintf("file larger than %d bytes (GitHub's limit)", maxCODEOWNERS)}
	}
	return co, nil
}

// splitEscaped splits a line on white space not escaped by a backslash.
func splitEscaped(line string) []string {
	var out []string
	var cur strings.Builder
	esc := false
	for _, r := range line {
		switch {
		case esc:
			cur.WriteRune(r)
			esc = false
		case r == '\\':
			esc = true
		case r == ' ' || r == '\t':
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// codeOwnersRE compiles a gitignore-style pattern as GitHub reads it: a
// leading or inner slash anchors at the root, otherwise the pattern
// matches at any depth; "*" stays within one path segment, "**" crosses
// segments; a trailing slash, or a last segment without wildcards, also
// matches everything below.
func codeOwnersRE(p string) *regexp.Regexp {
	dirOnly := strings.HasSuffix(p, "/")
	p = strings.TrimSuffix(p, "/")
	anchored := strings.HasPrefix(p, "/") || strings.Contains(p, "/")
	p = strings.TrimPrefix(p, "/")
	if p == "" || p == "**" {
		return regexp.MustCompile(`^.*$`)
	}
	var b strings.Builder
	b.WriteString("^")
	if !anchored {
		b.WriteString("(?:.*/)?")
	}
	for i := 0; i < len(p); i++ {
		switch {
		case strings.HasPrefix(p[i:], "**/"):
			b.WriteString("(?:.*/)?")
			i += 2
		case strings.HasPrefix(p[i:], "**"):
			b.WriteString(".*")
			i++
		case p[i] == '*':
			b.WriteString("[^/]*")
		case p[i] == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(p[i : i+1]))
		}
	}
	last := p[strings.LastIndex(p, "/")+1:]
	switch {
	case dirOnly:
		b.WriteString("/.*")
	case !strings.ContainsAny(last, "*?"):
		b.WriteString("(?:/.*)?")
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// Owners returns the owners of a path in the repository (with or without
// a leading slash): those of the last matching rule, or nil.
func (c *CodeOwners) Owners(path string) []string {
	path = strings.TrimPrefix(path, "/")
	for i := len(c.Rules) - 1; i >= 0; i-- {
		if c.Rules[i].re.MatchString(path) {
			return c.Rules[i].Owners
		}
	}
	return nil
}

// DefaultOwners returns the owners of the repository as a whole: those of
// the last catch-all rule ("*", "/*", "**", "/**" or "/"), or nil.
func (c *CodeOwners) DefaultOwners() []string {
	for i := len(c.Rules) - 1; i >= 0; i-- {
		if slices.Contains([]string{"*", "/*", "**", "/**", "/"}, c.Rules[i].Pattern) {
			return c.Rules[i].Owners
		}
	}
	return nil
}

// Rule returns an ownership rule giving the repository asset of repo (a
// URL or key) to the first of the default owners. It reports false when
// the file has no owned catch-all rule.
func (c *CodeOwners) Rule(repo string) (OwnershipRule, bool) {
	owners := c.DefaultOwners()
	if len(owners) == 0 {
		return OwnershipRule{}, false
	}
	return OwnershipRule{Team: owners[0], Match: []Selector{{Repository: repo}}}, true
}
