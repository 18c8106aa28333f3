package ingest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode/utf8"
)

// RedactSecret replaces a secret's value by what ctem keeps of it: an
// HMAC-SHA256 keyed with key (hex, 32 digits), which tells two sightings of
// one secret apart from two different secrets without storing either, and
// a hint of at most its last four characters, fewer for short values
// (none below 12, where four would give away too much). A value a tool
// already masked ("*****") hashes like any other.
func RedactSecret(key []byte, value string) (hash, hint string) {
	if value == "" {
		return "", ""
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(value))
	hash = hex.EncodeToString(m.Sum(nil)[:16])
	n := utf8.RuneCountInString(value)
	if n >= 12 && !strings.Contains(value, "*") {
		r := []rune(value)
		hint = "…" + string(r[n-4:])
	}
	return hash, hint
}

// MaskSecret returns text with every occurrence of the secret value
// replaced by a fixed mask, for titles and snippets that quote it.
func MaskSecret(text, value string) string {
	if len(value) < 4 {
		return text
	}
	return strings.ReplaceAll(text, value, "[REDACTED]")
}
