package iam

import "strings"

// Glob matches s against an IAM pattern where * is any run of characters
// and ? one character, in O(len(pattern)·len(s)) worst case and linear
// time in practice. It is case-sensitive: callers lower-case actions.
func Glob(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// GlobPrefix reports whether some string that begins with prefix matches
// pattern: whether "arn:aws:s3:::b/*" can name an object of bucket b
// (prefix "arn:aws:s3:::b/"). It tracks the set of pattern positions
// reachable after the prefix; any reachable position can be completed.
func GlobPrefix(pattern, prefix string) bool {
	cur := make([]bool, len(pattern)+1)
	next := make([]bool, len(pattern)+1)
	cur[0] = true
	closure := func(set []bool) {
		for p := 0; p < len(pattern); p++ {
			if set[p] && pattern[p] == '*' {
				set[p+1] = true
			}
		}
	}
	closure(cur)
	for i := 0; i < len(prefix); i++ {
		clear(next)
		any := false
		for p := 0; p < len(pattern); p++ {
			if !cur[p] {
				continue
			}
			switch pattern[p] {
			case '*':
				next[p] = true
				any = true
			case '?', prefix[i]:
				next[p+1] = true
				any = true
			}
		}
		if !any {
			return false
		}
		closure(next)
		cur, next = next, cur
	}
	for _, ok := range cur {
		if ok {
			return true
		}
	}
	return false
}

// Unknown stands for a field of an ARN that the estate does not know (the
// account of a role Terraform has not created yet): it matches any
// pattern field.
const Unknown = "\x01"

// MatchARN reports whether a Resource pattern matches an ARN, field by
// field (partition, service, region, account, resource), so that an
// Unknown field of the ARN matches anything. A pattern of fewer fields
// matches its last field against the rest of the ARN. With prefix, the
// ARN is the beginning of the names the resource stands for (a bucket's
// objects), and the pattern must be able to match one of them.
func MatchARN(pattern, arn string, prefix bool) bool {
	if pattern == "*" {
		return true
	}
	if !strings.Contains(arn, Unknown) {
		if prefix {
			return GlobPrefix(pattern, arn)
		}
		return Glob(pattern, arn)
	}
	pp := strings.SplitN(pattern, ":", 6)
	ap := strings.SplitN(arn, ":", 6)
	if len(ap) < 6 {
		return false
	}
	for i, f := range pp {
		last := i == len(pp)-1
		a := ap[i]
		if last && len(pp) < 6 {
			a = strings.Join(ap[i:], ":")
		}
		if strings.Contains(a, Unknown) {
			if a == Unknown {
				continue
			}
			// An unknown part inside the field: compare what precedes it.
			before, _, _ := strings.Cut(a, Unknown)
			if !GlobPrefix(f, before) {
				return false
			}
			continue
		}
		switch {
		case last && i == 5 && prefix:
			if !GlobPrefix(f, a) {
				return false
			}
		case !Glob(f, a):
			return false
		}
	}
	return true
}
