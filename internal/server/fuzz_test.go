package server

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzQuery feeds arbitrary query strings to the listing filters: each
// parses or is a 400 naming the parameter, and nothing panics.
func FuzzQuery(f *testing.F) {
	for _, s := range []string{
		"severity=critical,high&limit=5", "status=open&tool=trivy&asset=image:*", "sort=newest&cursor=eGFiYw",
		"limit=0", "limit=-1", "severity=dire", "status=%00", "sort=up", "history=maybe", "cve=CVE-2021-44228,GHSA-x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		r := httptest.NewRequest("GET", "/api/v1/exposures", nil)
		r.URL.RawQuery = q
		_, err := filter(r)
		if err == nil {
			return
		}
		var he *httpError
		if !errors.As(err, &he) || he.Status != http.StatusBadRequest || he.Field == "" {
			t.Errorf("filter(%q) = %v, want nil or a 400 naming the parameter", q, err)
		}
	})
}

// FuzzTriageBody feeds arbitrary bodies to the triage decoder: each
// decodes or is a 4xx, and nothing panics.
func FuzzTriageBody(f *testing.F) {
	for _, s := range []string{
		`{"status":"accepted","reason":"r","approver":"a","expires":"2030-01-01T00:00:00Z"}`,
		`{"status":"open","reason":"r"}`, `{"by":"x"}`, `[`, `{"status":1}`, `{} {}`, `"x"`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		var req struct {
			Status string `json:"status"`
			Reason string `json:"reason"`
		}
		err := readJSON(r, &req)
		if err == nil {
			return
		}
		var he *httpError
		if !errors.As(err, &he) || he.Status < 400 || he.Status >= 500 {
			t.Errorf("readJSON(%q) = %v, want nil or a 4xx", body, err)
		}
	})
}
