// Package web is ctem's dashboard: server-rendered pages (html/template,
// embedded in the binary) over the REST API. Every page reads the API
// in-process with the browser's session cookie, so that it shows exactly
// what the API lets the same principal see: the same roles, the same team
// scope, the same audit. The pages load one stylesheet and one small
// script from ctem's own origin, under a strict Content-Security-Policy.
package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ctem-dev/ctem/internal/server"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// CSP is the Content-Security-Policy of every page: only the origin's own
// script and stylesheet, no inline script or style, no eval, no plugin,
// no framing, forms posting only to the origin.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// Config is what the dashboard is built from.
type Config struct {
	// API is the REST API's handler, called in-process; when nil, WithAPI
	// sets it.
	API http.Handler
	// Log receives the dashboard's errors; nil discards them.
	Log *slog.Logger
	// MaxUpload is the most bytes an uploaded report may hold; 0 is 512
	// MiB.
	MaxUpload int64
	// OIDC offers sign-in through the server's OpenID Connect provider.
	OIDC bool
}

// Handler serves the dashboard.
type Handler struct {
	api       http.Handler
	log       *slog.Logger
	pages     map[string]*template.Template
	mux       *http.ServeMux
	maxUpload int64
	oidc      bool
}

// New returns the dashboard's handler.
func New(cfg Config) (*Handler, error) {
	h := &Handler{api: cfg.API, log: cfg.Log, maxUpload: cfg.MaxUpload, oidc: cfg.OIDC, pages: map[string]*template.Template{}, mux: http.NewServeMux()}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.maxUpload <= 0 {
		h.maxUpload = 512 << 20
	}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/charts.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" || name == "charts" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, n)
		if err != nil {
			return nil, err
		}
		h.pages[name] = t
	}
	static, _ := fs.Sub(staticFS, "static")
	fileServer := http.FileServerFS(static)
	h.mux.Handle("GET /static/", http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		fileServer.ServeHTTP(w, r)
	})))
	h.routes()
	return h, nil
}

// WithAPI sets the API's handler the pages call and returns h: the
// server's Config.UI.
func (h *Handler) WithAPI(api http.Handler) http.Handler {
	h.api = api
	return h
}

// ServeHTTP sets the security headers of every answer and serves it.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	if r.TLS != nil {
		hd.Set("Strict-Transport-Security", "max-age=31536000")
	}
	if !strings.HasPrefix(r.URL.Path, "/static/") {
		hd.Set("Cache-Control", "no-store")
	}
	h.mux.ServeHTTP(w, r)
}

// apiError is a refusal of the API: its status and problem detail.
type apiError struct {
	Status int
	Detail string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d: %s", e.Status, e.Detail) }

// recorder keeps an in-process API answer.
type recorder struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.h }
func (r *recorder) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// call sends one request to the API in-process, as the browser's request
// r: with its cookies, client address and TLS state. A JSON answer is
// decoded into out; an error answer is an *apiError.
func (h *Handler) call(r *http.Request, method, path string, q url.Values, ctype string, body io.Reader, out any) (http.Header, error) {
	target := path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(r.Context(), method, target, body)
	if err != nil {
		return nil, err
	}
	req.RemoteAddr, req.TLS, req.Host = r.RemoteAddr, r.TLS, r.Host
	if c := r.Header.Get("Cookie"); c != "" {
		req.Header.Set("Cookie", c)
	}
	req.Header.Set("User-Agent", r.Header.Get("User-Agent"))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	rec := &recorder{h: http.Header{}}
	h.api.ServeHTTP(rec, req)
	if rec.status >= 400 {
		var p server.Problem
		_ = json.Unmarshal(rec.body.Bytes(), &p)
		if p.Detail == "" {
			p.Detail = http.StatusText(rec.status)
		}
		return rec.h, &apiError{Status: rec.status, Detail: p.Detail}
	}
	if out != nil && rec.body.Len() > 0 {
		if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
			return rec.h, fmt.Errorf("decode %s: %w", path, err)
		}
	}
	return rec.h, nil
}

// get reads a resource of the API.
func (h *Handler) get(r *http.Request, path string, q url.Values, out any) error {
	_, err := h.call(r, "GET", path, q, "", nil, out)
	return err
}

// page is what every page's template receives.
type page struct {
	Title string
	Nav   string
	Me    *server.Me
	CSRF  string
	// Flash is a message shown once at the top (from the URL's "done").
	Flash string
	Data  any
}

type ctxKey struct{}

// render writes a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name, title, nav string, data any) {
	t := h.pages[name]
	p := page{Title: title, Nav: nav, Data: data, CSRF: csrfToken(r)}
	if me, ok := r.Context().Value(ctxKey{}).(*server.Me); ok {
		p.Me = me
	}
	p.Flash = flashes[r.URL.Query().Get("done")]
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		h.log.Error("render page", "page", name, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// flashes are the fixed messages a redirect may ask for: never text from
// the URL itself.
var flashes = map[string]string{
	"triaged":    "The decision is recorded.",
	"uploaded":   "The report is uploaded; its ingest job runs.",
	"signed-out": "You are signed out.",
}

// fail shows an error: the sign-in page for a missing session, else a
// page with the API's problem.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		if ae.Status == http.StatusUnauthorized {
			next := r.URL.RequestURI()
			if r.Method != http.MethodGet {
				next = "/" // a form's target is no page to come back to
			}
			http.Redirect(w, r, "/signin?next="+url.QueryEscape(next), http.StatusSeeOther)
			return
		}
		h.render(w, r, ae.Status, "error", http.StatusText(ae.Status), "", ae)
		return
	}
	if errors.Is(err, context.Canceled) {
		return
	}
	h.log.Error("dashboard page", "path", r.URL.Path, "err", err)
	h.render(w, r, http.StatusInternalServerError, "error", "Error", "", &apiError{Status: 500, Detail: "an internal error; it is logged"})
}

// handle wraps a page: it finds who is signed in (via the API's session
// route), and on no session sends the browser to the sign-in page.
func (h *Handler) handle(pattern string, fn func(w http.ResponseWriter, r *http.Request) error) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		var me server.Me
		if err := h.get(r, "/api/v1/session", nil, &me); err != nil {
			h.fail(w, r, err)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, &me))
		// A multipart form (an upload) is streamed, not parsed here: its
		// handler checks the token, which the form sends before the file.
		// No other route takes one.
		multipart := strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/")
		if r.Method == http.MethodPost && (multipart && pattern != uploadRoute || !multipart && !csrfOK(r)) {
			h.render(w, r, http.StatusForbidden, "error", "Forbidden", "", &apiError{Status: 403, Detail: "the form's CSRF token is missing or wrong; reload the page and try again"})
			return
		}
		if err := fn(w, r); err != nil {
			h.fail(w, r, err)
		}
	})
}

// uploadRoute is the one route that takes a multipart form.
const uploadRoute = "POST /scans/upload"

// preCookie holds the random value the sign-in form's CSRF token is
// derived from, before there is a session.
const preCookie = "ctem_csrf"

// csrfToken returns the CSRF token of the request's forms: derived from
// the session cookie (or, before sign-in, from the pre-session cookie),
// which is HttpOnly and never readable by a page of another origin, so
// that a form posted from elsewhere cannot carry it. Empty when the
// request has neither cookie.
func csrfToken(r *http.Request) string {
	seed := ""
	if c, err := r.Cookie(server.SessionCookie); err == nil {
		seed = c.Value
	} else if c, err := r.Cookie(preCookie); err == nil {
		seed = c.Value
	}
	if seed == "" {
		return ""
	}
	sum := sha256.Sum256([]byte("ctem-csrf\x00" + seed))
	return base64.RawURLEncoding.EncodeToString(sum[:18])
}

// csrfOK reports whether a POST carries its form's CSRF token.
func csrfOK(r *http.Request) bool {
	want := csrfToken(r)
	got := r.PostFormValue("csrf")
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

var funcs = template.FuncMap{
	"pct": func(f float64) string { return fmt.Sprintf("%.0f%%", f*100) },
	"prob": func(f float64) string {
		return fmt.Sprintf("%.2f", f)
	},
	"num": func(f float64) string { return fmt.Sprintf("%.1f", f) },
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04")
	},
	"day": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02")
	},
	"assetURL":    func(key string) string { return "/assets/" + pathEscape(key) },
	"exposureURL": func(id string) string { return "/exposures/" + url.PathEscape(id) },
	"pathURL":     func(id string) string { return "/paths/" + url.PathEscape(id) },
	"dur": func(d time.Duration) string {
		if d <= 0 {
			return "–"
		}
		days := d.Hours() / 24
		if days >= 1 {
			return fmt.Sprintf("%.1f d", days)
		}
		return fmt.Sprintf("%.1f h", d.Hours())
	},
	"short": func(s string, n int) string {
		r := []rune(s)
		if len(r) <= n {
			return s
		}
		return string(r[:n-1]) + "…"
	},
	"join": strings.Join,
	"inc":  func(i int) int { return i + 1 },
	"list": func(s ...string) []string { return s },
	"has":  func(role server.Role, want ...string) bool { return hasRole(role, want...) },
}

func hasRole(role server.Role, want ...string) bool {
	for _, w := range want {
		if string(role) == w {
			return true
		}
	}
	return false
}
