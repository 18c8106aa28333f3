package ingest

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// ServiceAccountOfToken returns "NAMESPACE/NAME" of the Kubernetes
// service account whose token s holds (a JWT, alone or inside a
// kubeconfig or an environment file, whose subject is
// "system:serviceaccount:NAMESPACE:NAME"), or "". Only the token's
// claims are read, never its signature checked: the claims name the
// account without giving the token away, so they may be kept where the
// token may not, and they are how a token found by a scanner meets the
// service account it acts as.
func ServiceAccountOfToken(s string) string {
	if len(s) > 64<<10 {
		return ""
	}
	for n := 0; n < 8; n++ {
		i := strings.Index(s, "eyJ")
		if i < 0 {
			return ""
		}
		s = s[i:]
		end := strings.IndexFunc(s, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' || r == '=')
		})
		tok := s
		if end >= 0 {
			tok, s = s[:end], s[end:]
		} else {
			s = ""
		}
		if sa := tokenSubject(tok); sa != "" {
			return sa
		}
	}
	return ""
}

// tokenSubject reads the service account a JWT's claims name.
func tokenSubject(tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) < 2 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return ""
	}
	var c struct {
		Sub string `json:"sub"`
	}
	if json.Unmarshal(b, &c) != nil {
		return ""
	}
	rest, ok := strings.CutPrefix(c.Sub, "system:serviceaccount:")
	ns, name, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 || ns == "" || name == "" || strings.ContainsAny(ns+name, "/:\n") {
		return ""
	}
	return ns + "/" + name
}
