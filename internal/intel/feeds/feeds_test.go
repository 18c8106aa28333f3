package feeds

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/intel/epss"
	"github.com/ctem-dev/ctem/internal/intel/kev"
)

// The fixtures are the snapshots embedded by packages kev and epss (see
// their snapshot/SOURCES.tsv), served as the real sources serve them,
// and variants derived from them.

func readFile(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func gunzip(tb testing.TB, b []byte) []byte {
	tb.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		tb.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func gzipBytes(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if _, err := zw.Write(b); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

type fixtures struct {
	kevV1, kevV2, kevOld []byte // JSON as CISA serves it
	epssV1, epssV2       []byte // CSV gzip as FIRST serves it
}

var loadFixtures = sync.OnceValue(func() *fixtures {
	t := &testing.T{}
	f := &fixtures{
		kevV1:  gunzip(t, readFile(t, "../kev/snapshot/kev-2026-01.json.gz")),
		epssV1: readFile(t, "../epss/snapshot/epss_scores-2026-01-30.csv.gz"),
	}
	f.kevV2 = editKEV(t, f.kevV1, "2026-02-05T18:00:00.000Z", func(vulns []any) []any {
		// Drop CVE-2026-1281 (the first entry), add CVE-2026-99999,
		// and mark CVE-2020-29583 as used by ransomware.
		for _, v := range vulns {
			if e := v.(map[string]any); e["cveID"] == "CVE-2020-29583" {
				e["knownRansomwareCampaignUse"] = "Known"
			}
		}
		added := map[string]any{}
		for k, v := range vulns[0].(map[string]any) {
			added[k] = v
		}
		added["cveID"] = "CVE-2026-99999"
		return append(vulns[1:], added)
	})
	f.kevOld = editKEV(t, f.kevV1, "2026-01-02T10:00:00.000Z", nil)

	csv := string(gunzip(t, f.epssV1))
	csv = strings.Replace(csv, "score_date:2026-01-30T12:55:00Z", "score_date:2026-02-02T12:55:00Z", 1)
	csv = strings.Replace(csv, "\nCVE-1999-0001,0.01151,", "\nCVE-1999-0001,0.51151,", 1) // +0.5: changed
	csv = strings.Replace(csv, "\nCVE-1999-0002,0.09123,", "\nCVE-1999-0002,0.09124,", 1) // +0.00001: below the threshold
	csv = strings.Replace(csv, "\nCVE-2021-44228,", "\nCVE-2021-44228-gone,", 1)
	csv = strings.Replace(csv, "\nCVE-2021-44228-gone,", "\nX", 1)
	csv = strings.Replace(csv, "\nX", "\nCVE-2026-99999,", 1) // Log4Shell removed, a new CVE added
	f.epssV2 = gzipBytes(t, []byte(csv))
	if t.Failed() {
		panic("feeds test fixtures do not load")
	}
	return f
})

// editKEV sets dateReleased (and catalogVersion to its date) and lets
// edit change the vulnerabilities.
func editKEV(tb testing.TB, b []byte, released string, edit func([]any) []any) []byte {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatal(err)
	}
	m["dateReleased"] = released
	m["catalogVersion"] = strings.ReplaceAll(released[:10], "-", ".")
	if edit != nil {
		vulns := edit(m["vulnerabilities"].([]any))
		m["vulnerabilities"] = vulns
		m["count"] = len(vulns)
	}
	out, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// server is a stand-in for a feed's HTTP endpoint on loopback.
type server struct {
	*httptest.Server
	mu       sync.Mutex
	body     []byte
	etag     string
	status   int    // answer this status instead of the body
	cutAt    int    // declare the full length but send only cutAt bytes
	chunked  bool   // send no Content-Length
	hang     bool   // wait until the client gives up
	redirect string // answer 302 to this address
	hits     int
	inm      []string // If-None-Match of each request
}

func newServer(tb testing.TB, body []byte, etag string) *server {
	tb.Helper()
	s := &server{body: body, etag: etag}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	return s
}

func (s *server) set(fn func(s *server)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s)
}

func (s *server) requests() (int, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits, append([]string(nil), s.inm...)
}

func (s *server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.hits++
	s.inm = append(s.inm, r.Header.Get("If-None-Match"))
	body, etag, status, cutAt, chunked, hang, redirect := s.body, s.etag, s.status, s.cutAt, s.chunked, s.hang, s.redirect
	s.mu.Unlock()
	switch {
	case hang:
		<-r.Context().Done()
		return
	case redirect != "":
		http.Redirect(w, r, redirect, http.StatusFound)
		return
	case status != 0:
		http.Error(w, "boom", status)
		return
	case etag != "" && r.Header.Get("If-None-Match") == etag:
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if etag != "" {
		w.Header().Set("ETag", etag)
	}
	w.Header().Set("Last-Modified", "Thu, 29 Jan 2026 20:30:00 GMT")
	switch {
	case chunked:
		w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		w.Write(body[len(body)/2:])
	case cutAt > 0:
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body[:cutAt])
	default:
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	}
}

var t0 = time.Date(2026, 2, 6, 9, 0, 0, 0, time.UTC)

// config returns a Config downloading KEV from kevSrv and EPSS from
// epssSrv (a nil server leaves the feed without a URL), at t0.
func config(tb testing.TB, kevSrv, epssSrv *server) Config {
	tb.Helper()
	cfg := Config{Dir: tb.TempDir(), Timeout: 30 * time.Second, Now: func() time.Time { return t0 }}
	if kevSrv != nil {
		cfg.KEV.URL = kevSrv.URL + "/known_exploited_vulnerabilities.json"
		cfg.Client = kevSrv.Client()
	}
	if epssSrv != nil {
		cfg.EPSS.URL = epssSrv.URL + "/epss_scores-current.csv.gz"
		cfg.Client = epssSrv.Client()
	}
	return cfg
}

// dirFiles returns the SHA-256 of every file of dir by name: cmp.Diff
// on megabytes of []byte is slow.
func dirFiles(tb testing.TB, dir string) map[string]string {
	tb.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range ents {
		m[e.Name()] = sum(readFile(tb, filepath.Join(dir, e.Name())))
	}
	return m
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func resultOf(tb testing.TB, rs []Result, f Feed) Result {
	tb.Helper()
	for _, r := range rs {
		if r.Feed == f {
			return r
		}
	}
	tb.Fatalf("no result for %s in %v", f, rs)
	return Result{}
}

func TestUpdateFirstDownloadThenNotModified(t *testing.T) {
	t.Parallel()
	fx := loadFixtures()
	kevSrv := newServer(t, fx.kevV1, `"kev-1"`)
	epssSrv := newServer(t, fx.epssV1, `"epss-1"`)
	cfg := config(t, kevSrv, epssSrv)

	rs, err := Update(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Update() first error %v", err)
	}
	tests := []struct {
		feed    Feed
		body    []byte
		version string
		count   int
		etag    string
	}{
		{KEV, fx.kevV1, "2026.01.29", 1501, `"kev-1"`},
		{EPSS, fx.epssV1, "v2025.03.14", 313089, `"epss-1"`},
	}
	files := dirFiles(t, cfg.Dir)
	for _, tt := range tests {
		r := resultOf(t, rs, tt.feed)
		if r.Outcome != Updated || r.From != Embedded {
			t.Errorf("Update() %s = %s from %s, want updated from embedded", tt.feed, r.Outcome, r.From)
		}
		if files[fileName(tt.feed)] != sum(tt.body) {
			t.Errorf("stored %s copy differs from the served body", tt.feed)
		}
		want := &Meta{
			Feed: tt.feed, URL: r.URL, ETag: tt.etag, LastModified: "Thu, 29 Jan 2026 20:30:00 GMT",
			FetchedAt: t0, CheckedAt: t0, Version: tt.version, DataDate: r.Meta.DataDate,
			Count: tt.count, Size: int64(len(tt.body)), SHA256: sum(tt.body),
		}
		if diff := cmp.Diff(r.Meta, want); diff != "" {
			t.Errorf("Update() %s meta (-got +want):\n%s", tt.feed, diff)
		}
		var onDisk Meta
		if err := json.Unmarshal(readFile(t, filepath.Join(cfg.Dir, metaName(tt.feed))), &onDisk); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&onDisk, want); diff != "" {
			t.Errorf("%s (-got +want):\n%s", metaName(tt.feed), diff)
		}
	}
	// The same data as the snapshot: nothing to re-score.
	if d := resultOf(t, rs, KEV).KEV; d == nil || !d.Empty() {
		t.Errorf("Update() KEV diff = %+v, want empty", d)
	}
	if d := resultOf(t, rs, EPSS).EPSS; d == nil || len(d.Changed) != 0 || d.RemovedUnnamed != 0 || d.ModelChanged {
		t.Errorf("Update() EPSS diff = %+v, want empty", d)
	}
	if got := string(readFile(t, filepath.Join(cfg.Dir, epssNoticeName))); !strings.HasPrefix(got, epss.Attribution) {
		t.Errorf("%s = %q, want FIRST's attribution first", epssNoticeName, got)
	}

	in, err := Load(cfg)
	if err != nil || in.KEVFrom.Origin != Stored || in.EPSSFrom.Origin != Stored {
		t.Fatalf("Load() = %+v, %+v, %v, want both stored", in.KEVFrom, in.EPSSFrom, err)
	}

	// Second update, a day later: 304 for both, only checked_at moves.
	later := t0.Add(24 * time.Hour)
	cfg.Now = func() time.Time { return later }
	rs, err = Update(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Update() second error %v", err)
	}
	after := dirFiles(t, cfg.Dir)
	for _, tt := range tests {
		r := resultOf(t, rs, tt.feed)
		if r.Outcome != NotModified || r.KEV != nil || r.EPSS != nil {
			t.Errorf("Update() second %s = %s, want not-modified without a diff", tt.feed, r.Outcome)
		}
		if after[fileName(tt.feed)] != files[fileName(tt.feed)] {
			t.Errorf("304 changed the stored %s copy", tt.feed)
		}
		if !r.Meta.CheckedAt.Equal(later) || !r.Meta.FetchedAt.Equal(t0) {
			t.Errorf("Update() second %s meta checked %v fetched %v, want %v and %v", tt.feed, r.Meta.CheckedAt, r.Meta.FetchedAt, later, t0)
		}
	}
	for _, s := range []*server{kevSrv, epssSrv} {
		if hits, inm := s.requests(); hits != 2 || inm[0] != "" || inm[1] != s.etag {
			t.Errorf("server saw %d requests with If-None-Match %q, want 2 with \"\" then %q", hits, inm, s.etag)
		}
	}
	if len(after) != len(files) {
		t.Errorf("files after the 304 = %d, want %d (no temporary leftovers)", len(after), len(files))
	}
}

func TestUpdateChangedFeedDiff(t *testing.T) {
	t.Parallel()
	fx := loadFixtures()
	kevSrv := newServer(t, fx.kevV1, `"kev-1"`)
	epssSrv := newServer(t, fx.epssV1, `"epss-1"`)
	cfg := config(t, kevSrv, epssSrv)
	if _, err := Update(t.Context(), cfg); err != nil {
		t.Fatalf("Update() first error %v", err)
	}
	kevSrv.set(func(s *server) { s.body, s.etag = fx.kevV2, `"kev-2"` })
	epssSrv.set(func(s *server) { s.body, s.etag = fx.epssV2, `"epss-2"` })

	rs, err := Update(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Update() second error %v", err)
	}
	k, e := resultOf(t, rs, KEV), resultOf(t, rs, EPSS)
	if k.Outcome != Updated || e.Outcome != Updated || k.From != Stored || e.From != Stored {
		t.Fatalf("Update() = %s from %s, %s from %s; want updated from stored", k.Outcome, k.From, e.Outcome, e.From)
	}
	wantKEV := &KEVDiff{Added: []string{"CVE-2026-99999"}, Removed: []string{"CVE-2026-1281"}, Changed: []string{"CVE-2020-29583"}}
	if diff := cmp.Diff(k.KEV, wantKEV); diff != "" {
		t.Errorf("Update() KEV diff (-got +want):\n%s", diff)
	}
	wantEPSS := &EPSSDiff{
		Threshold: DefaultEPSSThreshold,
		Changed: []ScoreChange{
			{CVE: "CVE-1999-0001", Old: 0.01151, New: 0.51151},
			{CVE: "CVE-2021-44228", Old: e.EPSS.Changed[1].Old, Removed: true},
			{CVE: "CVE-2026-99999", New: e.EPSS.Changed[2].New, Added: true},
		},
	}
	if diff := cmp.Diff(e.EPSS, wantEPSS); diff != "" {
		t.Errorf("Update() EPSS diff (-got +want):\n%s", diff)
	}
	in, err := Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if in.KEV.Version != "2026.02.05" || in.EPSS.Date.Format(time.DateOnly) != "2026-02-02" {
		t.Errorf("Load() = KEV %s, EPSS %s, want 2026.02.05 and 2026-02-02", in.KEV.Version, in.EPSS.Date)
	}
}

func TestUpdateRejected(t *testing.T) {
	t.Parallel()
	fx := loadFixtures()
	tests := []struct {
		name  string
		feed  Feed
		setup func(s *server, cfg *Config)
		want  error // errors.Is
	}{
		{"truncated body", KEV, func(s *server, _ *Config) { s.cutAt = len(s.body) / 2 }, io.ErrUnexpectedEOF},
		{"truncated JSON", KEV, func(s *server, _ *Config) { s.body = s.body[:len(s.body)-10] }, kev.ErrInvalid},
		{"wrong content", KEV, func(s *server, _ *Config) { s.body = []byte("<!doctype html><title>Access Denied</title>") }, ErrInvalid},
		{"oversize with Content-Length", KEV, func(_ *server, c *Config) { c.KEV.MaxBytes = 1 << 10 }, ErrTooLarge},
		{"oversize chunked", KEV, func(s *server, c *Config) { s.chunked = true; c.KEV.MaxBytes = 1 << 10 }, ErrTooLarge},
		{"HTTP 500", KEV, func(s *server, _ *Config) { s.status = http.StatusInternalServerError }, ErrHTTP},
		{"older catalog", KEV, func(s *server, _ *Config) { s.body, s.etag = fx.kevOld, `"old"` }, ErrOutdated},
		{"timeout", KEV, func(s *server, c *Config) { s.hang = true; c.Timeout = 100 * time.Millisecond }, context.DeadlineExceeded},
		{"offline", KEV, func(s *server, c *Config) { s.body, s.etag = fx.kevV2, `"kev-2"`; c.Offline = true }, ErrOffline},
		{"not http", KEV, func(_ *server, c *Config) { c.KEV.URL = "file:///etc/passwd" }, ErrURL},
		{"redirect to another scheme", KEV, func(s *server, _ *Config) { s.redirect = "ftp://example.invalid/kev.json" }, ErrURL},
		{"EPSS truncated gzip", EPSS, func(s *server, _ *Config) { s.body = s.body[:len(s.body)/2] }, epss.ErrInvalid},
		{"EPSS corrupt gzip", EPSS, func(s *server, _ *Config) {
			b := bytes.Clone(fx.epssV2)
			b[len(b)/2] ^= 0xff
			s.body, s.etag = b, `"bad"`
		}, epss.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := fx.kevV1
			if tt.feed == EPSS {
				body = fx.epssV1
			}
			s := newServer(t, body, `"v1"`)
			cfg := config(t, s, nil)
			if tt.feed == EPSS {
				cfg = config(t, nil, s)
			}
			if _, err := Update(t.Context(), cfg); err != nil {
				t.Fatalf("Update() first error %v", err)
			}
			before := dirFiles(t, cfg.Dir)
			hits, _ := s.requests()
			s.set(func(s *server) {
				s.etag = "" // no 304: serve the bad body
				tt.setup(s, &cfg)
			})
			url := cfg.KEV.URL + cfg.EPSS.URL

			rs, err := Update(t.Context(), cfg)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Update() error %v, want %v", err, tt.want)
			}
			t.Logf("Update() error: %v", err)
			if tt.want != ErrOffline {
				r := resultOf(t, rs, tt.feed)
				if r.Outcome != Failed || r.Err == nil {
					t.Errorf("Update() %s = %s, want failed", tt.feed, r.Outcome)
				}
				if msg := err.Error(); !strings.Contains(msg, string(tt.feed)+" feed") || !strings.Contains(msg, url) {
					t.Errorf("Update() error %q does not name the feed %s and %s", msg, tt.feed, url)
				}
				if fe, ok := errors.AsType[*FetchError](err); !ok || fe.Feed != tt.feed || fe.URL != url {
					t.Errorf("Update() error %v, want a *FetchError for %s at %s", err, tt.feed, url)
				}
			} else if n, _ := s.requests(); n != hits {
				t.Errorf("offline Update() sent %d requests", n-hits)
			}
			if diff := cmp.Diff(dirFiles(t, cfg.Dir), before); diff != "" {
				t.Errorf("stored files changed (-got +want):\n%s", diff)
			}
			in, err := Load(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if p := in.KEVFrom; tt.feed == KEV && (p.Origin != Stored || p.Meta == nil || p.Meta.SHA256 != sum(fx.kevV1)) {
				t.Errorf("Load() KEV from %+v, want the stored first copy", p)
			}
			if p := in.EPSSFrom; tt.feed == EPSS && (p.Origin != Stored || p.Meta == nil || p.Meta.SHA256 != sum(fx.epssV1)) {
				t.Errorf("Load() EPSS from %+v, want the stored first copy", p)
			}
		})
	}
}

func TestUpdateMirror(t *testing.T) {
	t.Parallel()
	fx := loadFixtures()
	primary := newServer(t, nil, "")
	primary.set(func(s *server) { s.status = http.StatusInternalServerError })
	mirror := newServer(t, fx.kevV2, `"m2"`)
	cfg := config(t, primary, nil)
	cfg.KEV.Mirror = mirror.URL + "/kev.json"

	rs, err := Update(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Update() error %v", err)
	}
	r := resultOf(t, rs, KEV)
	if r.Outcome != Updated || r.URL != cfg.KEV.Mirror || r.Meta.URL != cfg.KEV.Mirror {
		t.Errorf("Update() = %s from %s, want updated from the mirror %s", r.Outcome, r.URL, cfg.KEV.Mirror)
	}
	if got := dirFiles(t, cfg.Dir)[fileName(KEV)]; got != sum(fx.kevV2) {
		t.Errorf("stored copy is not the mirror's body")
	}
	if n, _ := primary.requests(); n != 1 {
		t.Errorf("primary saw %d requests, want 1", n)
	}
	// The mirror's ETag is sent to the mirror only: the primary, now
	// healthy, gets an unconditional request.
	primary.set(func(s *server) { s.status, s.body, s.etag = 0, fx.kevV2, `"p2"` })
	if _, err := Update(t.Context(), cfg); err != nil {
		t.Fatalf("Update() second error %v", err)
	}
	if _, inm := primary.requests(); inm[1] != "" {
		t.Errorf("primary got If-None-Match %q, want none", inm[1])
	}
}

func TestUpdateRedirectDowngrade(t *testing.T) {
	t.Parallel()
	fx := loadFixtures()
	plain := newServer(t, fx.kevV1, "")
	tlsSrv := httptest.NewTLSServer(http.RedirectHandler(plain.URL+"/kev.json", http.StatusFound))
	t.Cleanup(tlsSrv.Close)
	cfg := config(t, nil, nil)
	cfg.KEV.URL, cfg.Client = tlsSrv.URL+"/kev.json", tlsSrv.Client()

	_, err := Update(t.Context(), cfg)
	if !errors.Is(err, ErrURL) {
		t.Errorf("Update() error %v, want ErrURL", err)
	}
	if n, _ := plain.requests(); n != 0 {
		t.Errorf("the http server saw %d requests after an https redirect, want 0", n)
	}
}

// TestUpdateAtomic fails every update at the last moment, after the
// download validated and before it replaces the stored copy.
func TestUpdateAtomic(t *testing.T) {
	t.Parallel()
	fx := loadFixtures()
	tests := []struct {
		name  string
		first []byte // stored before, nil for none
	}{
		{"no stored copy", nil},
		{"stored copy", fx.kevV1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, tt.first, "")
			cfg := config(t, s, nil)
			if tt.first != nil {
				if _, err := Update(t.Context(), cfg); err != nil {
					t.Fatal(err)
				}
			}
			before := dirFiles(t, cfg.Dir)
			s.set(func(s *server) { s.body = fx.kevV2 })
			boom := errors.New("power cut")
			cfg.beforeRename = func(f Feed) error {
				// The validated download sits in a temporary file
				// beside the untouched stored copy.
				now := dirFiles(t, cfg.Dir)
				tmp := 0
				for name, h := range now {
					if strings.HasPrefix(name, "."+fileName(f)+".tmp-") && h == sum(fx.kevV2) {
						tmp++
					}
				}
				if tmp != 1 || now[fileName(f)] != before[fileName(f)] {
					t.Errorf("before rename: %d complete temporary files, stored copy changed %v", tmp, now[fileName(f)] != before[fileName(f)])
				}
				return boom
			}
			rs, err := Update(t.Context(), cfg)
			if !errors.Is(err, boom) || resultOf(t, rs, KEV).Outcome != Failed {
				t.Fatalf("Update() error %v, want %v", err, boom)
			}
			if diff := cmp.Diff(dirFiles(t, cfg.Dir), before); diff != "" {
				t.Errorf("files after a failed rename (-got +want):\n%s", diff)
			}
			in, err := Load(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]Origin{true: Stored, false: Embedded}[tt.first != nil]; in.KEVFrom.Origin != want || in.KEV.Version != "2026.01.29" {
				t.Errorf("Load() = %s %s, want %s 2026.01.29", in.KEVFrom.Origin, in.KEV.Version, want)
			}
		})
	}
}

func TestLoadFallback(t *testing.T) {
	t.Parallel()
	fx := loadFixtures()
	older := editKEV(t, fx.kevV1, "2025-12-01T00:00:00Z", nil)
	tests := []struct {
		name   string
		files  map[string][]byte
		origin Origin
		want   error // Fallback, errors.Is
	}{
		{"no directory", nil, Embedded, nil},
		{"valid", map[string][]byte{fileName(KEV): fx.kevV2}, Stored, nil},
		{"truncated", map[string][]byte{fileName(KEV): fx.kevV2[:1000]}, Embedded, kev.ErrInvalid},
		{"empty", map[string][]byte{fileName(KEV): {}}, Embedded, kev.ErrInvalid},
		{"older than the snapshot", map[string][]byte{fileName(KEV): older}, Embedded, ErrSnapshotNewer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := Config{Dir: filepath.Join(t.TempDir(), "feeds")}
			if tt.files != nil {
				if err := os.Mkdir(cfg.Dir, 0o755); err != nil {
					t.Fatal(err)
				}
				for name, b := range tt.files {
					if err := os.WriteFile(filepath.Join(cfg.Dir, name), b, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			in, err := Load(cfg)
			if err != nil {
				t.Fatalf("Load() error %v", err)
			}
			p := in.KEVFrom
			if p.Origin != tt.origin || !errors.Is(p.Fallback, tt.want) || (tt.want == nil) != (p.Fallback == nil) {
				t.Errorf("Load() KEV from %s, fallback %v; want %s, %v", p.Origin, p.Fallback, tt.origin, tt.want)
			}
			if p.Meta != nil {
				t.Errorf("Load() KEV meta = %+v without a metadata file, want nil", p.Meta)
			}
			if in.EPSSFrom.Origin != Embedded || in.EPSS.Len() != 313089 {
				t.Errorf("Load() EPSS = %s with %d scores, want the embedded snapshot", in.EPSSFrom.Origin, in.EPSS.Len())
			}
		})
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	fx := loadFixtures()
	// One directory holds a KEV copy fetched and checked at t0; EPSS is
	// the embedded snapshot, scored 2026-01-30T12:55Z.
	s := newServer(t, fx.kevV2, `"k2"`)
	cfg := config(t, s, nil)
	if _, err := Update(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	epssDate := time.Date(2026, 1, 30, 12, 55, 0, 0, time.UTC)
	tests := []struct {
		name      string
		now       time.Time
		kevStale  bool
		kevAge    time.Duration
		epssStale bool
		epssAge   time.Duration
	}{
		{"an hour later", t0.Add(time.Hour), false, time.Hour, true, t0.Add(time.Hour).Sub(epssDate)},
		{"exactly the max age", t0.Add(7 * 24 * time.Hour), false, 7 * 24 * time.Hour, true, t0.Add(7 * 24 * time.Hour).Sub(epssDate)},
		{"8 days later", t0.Add(8 * 24 * time.Hour), true, 8 * 24 * time.Hour, true, t0.Add(8 * 24 * time.Hour).Sub(epssDate)},
		{"EPSS fresh", epssDate.Add(2 * time.Hour), false, 0, false, 2 * time.Hour}, // a clock before the fetch: age 0
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := cfg
			c.Now = func() time.Time { return tt.now }
			sts, err := Status(c)
			if err != nil {
				t.Fatalf("Status() error %v", err)
			}
			if len(sts) != 2 || sts[0].Feed != KEV || sts[1].Feed != EPSS {
				t.Fatalf("Status() = %+v, want KEV then EPSS", sts)
			}
			k, e := sts[0], sts[1]
			wantK := FeedStatus{
				Feed: KEV, Origin: Stored, Version: "2026.02.05", Count: 1501,
				DataDate: time.Date(2026, 2, 5, 18, 0, 0, 0, time.UTC), URL: cfg.KEV.URL,
				FetchedAt: t0, CheckedAt: t0, Age: tt.kevAge, MaxAge: DefaultKEVMaxAge, Stale: tt.kevStale,
				Warning: k.Warning,
			}
			if diff := cmp.Diff(k, wantK); diff != "" {
				t.Errorf("Status() KEV (-got +want):\n%s", diff)
			}
			if e.Origin != Embedded || e.Age != tt.epssAge || e.Stale != tt.epssStale || e.MaxAge != DefaultEPSSMaxAge {
				t.Errorf("Status() EPSS = %s, age %v, stale %v; want embedded, %v, %v", e.Origin, e.Age, e.Stale, tt.epssAge, tt.epssStale)
			}
			if e.Attribution != "EPSS scores from FIRST, https://www.first.org/epss" || k.Attribution != "" {
				t.Errorf("Status() attribution KEV %q, EPSS %q", k.Attribution, e.Attribution)
			}
			for _, st := range sts {
				if got := st.Warning != ""; got != st.Stale || (st.Stale && !strings.Contains(st.Warning, "ctem feeds update")) {
					t.Errorf("Status() %s stale %v, warning %q", st.Feed, st.Stale, st.Warning)
				}
			}
		})
	}
}

func TestStatusCorruptCopy(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, fileName(EPSS)), []byte("cve,epss,percentile\nCVE-2026-0001,0.1"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Dir: dir, Now: func() time.Time { return time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC) }}
	sts, err := Status(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := sts[1]
	if e.Origin != Embedded || e.Stale || !strings.Contains(e.Warning, "stored copy not used") || !strings.Contains(e.Warning, "truncated") {
		t.Errorf("Status() EPSS = %s, stale %v, warning %q; want embedded, fresh, a warning about the stored copy", e.Origin, e.Stale, e.Warning)
	}
}

func TestDefaultConfig(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig("/x")
	for _, u := range []string{cfg.KEV.URL, cfg.EPSS.URL} {
		if err := checkURL(u); err != nil || !strings.HasPrefix(u, "https://") {
			t.Errorf("DefaultConfig() URL %q: %v, want an https URL", u, err)
		}
	}
	if s := cfg.source(EPSS); s.MaxBytes != 128<<20 || s.MaxAge != 72*time.Hour {
		t.Errorf("source(EPSS) = %+v, want 128 MiB, 72h", s)
	}
	if s := (&Config{}).source(KEV); s.MaxBytes != 64<<20 || s.MaxAge != 7*24*time.Hour {
		t.Errorf("zero Config source(KEV) = %+v, want the defaults 64 MiB, 7 days", s)
	}
	if rs, err := Update(t.Context(), Config{Dir: t.TempDir()}); err != nil || rs[0].Outcome != Skipped || rs[1].Outcome != Skipped {
		t.Errorf("Update() without URLs = %+v, %v; want both skipped", rs, err)
	}
}

// TestLoadBounded checks that a feed file beyond its bound, a gzip bomb
// of valid EPSS rows among them, is refused with ErrTooLarge, and that
// the real files load. Not parallel: it lowers maxEPSSPlainBytes and
// maxKEVBytes, which the parallel tests only use once they are restored.
func TestLoadBounded(t *testing.T) {
	defer func(e, k int64) { maxEPSSPlainBytes, maxKEVBytes = e, k }(maxEPSSPlainBytes, maxKEVBytes)
	maxEPSSPlainBytes, maxKEVBytes = 1<<20, 1<<20
	var rows bytes.Buffer
	rows.WriteString("#model_version:v2025.03.14,score_date:2025-06-01T00:00:00+0000\ncve,epss,percentile\n")
	for i := 0; rows.Len() <= 1<<20; i++ {
		rows.WriteString("CVE-2024-")
		rows.Write(strconv.AppendInt(nil, int64(10000+i), 10))
		rows.WriteString(",0.00100,0.50000\n")
	}
	bomb := gzipBytes(t, rows.Bytes())
	if _, err := load(EPSS, bytes.NewReader(bomb)); !errors.Is(err, ErrTooLarge) || !errors.Is(err, epss.ErrInvalid) {
		t.Errorf("load(EPSS, %d bytes of gzip holding %d) = %v, want ErrTooLarge", len(bomb), rows.Len(), err)
	}
	if _, err := load(EPSS, bytes.NewReader(rows.Bytes())); !errors.Is(err, ErrTooLarge) {
		t.Errorf("load(EPSS, %d plain bytes) = %v, want ErrTooLarge", rows.Len(), err)
	}
	rows.Truncate(1 << 19)
	rows.Truncate(bytes.LastIndexByte(rows.Bytes(), '\n') + 1)
	if d, err := load(EPSS, bytes.NewReader(gzipBytes(t, rows.Bytes()))); err != nil || d.count() == 0 {
		t.Errorf("load(EPSS, %d bytes) = %v, want the scores", rows.Len(), err)
	}
	var kevBig bytes.Buffer
	kevBig.WriteString(`{"title":"`)
	kevBig.Write(bytes.Repeat([]byte("a"), int(maxKEVBytes)))
	if _, err := load(KEV, &kevBig); !errors.Is(err, ErrTooLarge) {
		t.Errorf("load(KEV, %d bytes) = %v, want ErrTooLarge", kevBig.Len(), err)
	}
}

// FuzzMeta checks the reading of a feed's metadata file, which anyone
// with write access to the feeds folder controls: any content is read or
// refused with an error, and what is read writes back and reads again
// the same.
func FuzzMeta(f *testing.F) {
	m := Meta{Feed: KEV, URL: DefaultKEVURL, ETag: `"abc"`, FetchedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Version: "2026.01.02", Count: 1484, Size: 1 << 20, SHA256: strings.Repeat("ab", 32)}
	b, err := json.Marshal(&m)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"feed":"epss","data_date":"2026-13-45T00:00:00Z"}`))
	f.Add([]byte(`{"count":1e400}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		root, err := os.OpenRoot(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer root.Close()
		if err := root.WriteFile(metaName(KEV), data, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := readMeta(root, KEV)
		if err != nil {
			return
		}
		if err := writeMeta(root, got); err != nil {
			t.Fatalf("writeMeta(%+v): %v", got, err)
		}
		again, err := readMeta(root, KEV)
		if err != nil {
			t.Fatalf("readMeta after writeMeta(%+v): %v", got, err)
		}
		if diff := cmp.Diff(again, got); diff != "" {
			t.Fatalf("metadata changed by a write and a read (-again +first):\n%s", diff)
		}
	})
}
