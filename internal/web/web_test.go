package web_test

import (
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/server"
)

// TestPagesAndHeaders signs in and reads every page: each answers 200
// with the security headers, and a page without a session sends the
// browser to the sign-in page.
func TestPagesAndHeaders(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	anon := client()
	st, h, _ := get(t, anon, f.url+"/exposures?severity=high")
	if st != http.StatusSeeOther || h.Get("Location") != "/signin?next=%2Fexposures%3Fseverity%3Dhigh" {
		t.Errorf("GET /exposures without a session = %d to %q, want 303 to the sign-in page with next", st, h.Get("Location"))
	}
	c := f.signIn(t, "admin")
	var xs server.Page[model.Exposure]
	f.api(t, nil, "/api/v1/exposures?limit=1&severity=critical", &xs)
	var paths server.PathsBody
	f.api(t, nil, "/api/v1/paths", &paths)
	if len(xs.Items) == 0 || len(paths.Items) == 0 {
		t.Fatalf("the demo has %d critical exposures and %d paths, want some", len(xs.Items), len(paths.Items))
	}
	for _, p := range []string{"/", "/paths", "/paths?jewel=" + url.QueryEscape(strings.SplitN(paths.Items[0].Target, ":", 2)[1]), "/paths/" + paths.Items[0].ID,
		"/fixplan", "/exposures", "/exposures?severity=critical&sort=newest&limit=100", "/exposures/" + xs.Items[0].ID,
		"/assets", "/assets/" + xs.Items[0].Asset, "/scans", "/audit", "/static/app.css", "/static/app.js"} {
		st, h, body := get(t, c, f.url+p)
		if st != http.StatusOK {
			t.Errorf("GET %s = %d, want 200\n%.400s", p, st, body)
			continue
		}
		for k, want := range map[string]string{
			"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
			"X-Frame-Options":         "DENY",
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "same-origin",
		} {
			if got := h.Get(k); got != want {
				t.Errorf("GET %s: %s = %q, want %q", p, k, got, want)
			}
		}
		if strings.HasPrefix(p, "/static/") {
			continue
		}
		if strings.Contains(body, "<script>") || strings.Contains(body, " style=") || strings.Contains(body, " on") && strings.Contains(body, "onclick=") {
			t.Errorf("GET %s holds inline script or style", p)
		}
	}
	// The overview shows the feeds' freshness, a stale one flagged.
	if _, _, body := get(t, c, f.url+"/"); !strings.Contains(body, "<td>kev</td><td>embedded</td><td>2026.01.29</td><td>2026-01-29</td>") || !strings.Contains(body, "50.0 d (stale)") || !strings.Contains(body, "the KEV catalog is 50 days old") {
		t.Errorf("the overview does not show the KEV feed's version, date and staleness")
	}
	// A later page of exposures links back to the first with the same
	// filters.
	var pg1 server.Page[model.Exposure]
	f.api(t, nil, "/api/v1/exposures?limit=5", &pg1)
	if _, _, body := get(t, c, f.url+"/exposures?limit=50&cursor="+url.QueryEscape(pg1.NextCursor)+"&status=open"); !strings.Contains(body, `<a href="/exposures?limit=50&amp;status=open" id="first">`) {
		t.Errorf("a later page of exposures has no link to the first page with its filters")
	}
	if st, _, _ := get(t, c, f.url+"/exposures/nope"); st != http.StatusNotFound {
		t.Errorf("GET /exposures/nope = %d, want 404", st)
	}
	if st, _, _ := get(t, c, f.url+"/no/such/page"); st != http.StatusNotFound {
		t.Errorf("GET /no/such/page = %d, want 404", st)
	}
	// The API keeps answering problems, not pages, for unknown routes.
	if st, h, _ := get(t, c, f.url+"/api/v1/nope"); st != http.StatusNotFound || !strings.HasPrefix(h.Get("Content-Type"), "application/problem+json") {
		t.Errorf("GET /api/v1/nope = %d %s, want a 404 problem", st, h.Get("Content-Type"))
	}
}

// TestCSRF refuses a form posted without its token, or with another
// session's, and changes nothing; with the token, the decision is kept.
func TestCSRF(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var xs server.Page[model.Exposure]
	f.api(t, nil, "/api/v1/exposures?limit=1&status=open", &xs)
	x := xs.Items[0]
	admin, web := f.signIn(t, "admin"), f.signIn(t, "web")
	_, _, page := get(t, admin, f.url+"/exposures/"+x.ID)
	good := formToken(t, page)
	_, _, other := get(t, web, f.url+"/")
	for name, tok := range map[string]string{"none": "", "another session's": formToken(t, other), "forged": "AAAAAAAAAAAAAAAAAAAAAAAA"} {
		res, err := admin.PostForm(f.url+"/exposures/"+x.ID+"/triage", url.Values{"csrf": {tok}, "status": {"false_positive"}, "reason": {"csrf " + name}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("triage with %s CSRF token = %d, want 403", name, res.StatusCode)
		}
	}
	// A multipart form, which only the upload route streams, is refused
	// elsewhere even with its token.
	var mp strings.Builder
	mw := multipart.NewWriter(&mp)
	for k, v := range map[string]string{"csrf": good, "status": "false_positive", "reason": "multipart"} {
		_ = mw.WriteField(k, v)
	}
	mw.Close()
	if res, err := admin.Post(f.url+"/exposures/"+x.ID+"/triage", mw.FormDataContentType(), strings.NewReader(mp.String())); err != nil || res.StatusCode != http.StatusForbidden {
		t.Errorf("triage as a multipart form = %v %v, want 403", res.StatusCode, err)
	}
	// An upload without the token is refused before its file is read.
	mp.Reset()
	mw = multipart.NewWriter(&mp)
	fw, _ := mw.CreateFormFile("report", "x.json")
	_, _ = fw.Write([]byte("{}"))
	mw.Close()
	if res, err := admin.Post(f.url+"/scans/upload", mw.FormDataContentType(), strings.NewReader(mp.String())); err != nil || res.StatusCode != http.StatusForbidden {
		t.Errorf("an upload without a CSRF token = %v %v, want 403", res.StatusCode, err)
	}
	if got, _ := f.st.Exposure(t.Context(), x.ID); got.Status != model.StatusOpen {
		t.Errorf("after refused forms, status = %s, want open", got.Status)
	}
	res, err := admin.PostForm(f.url+"/exposures/"+x.ID+"/triage", url.Values{"csrf": {good}, "status": {"accepted"}, "reason": {"compensating control"}, "expires": {"2099-01-31"}, "approver": {"ciso"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("triage with its token = %d, want 303", res.StatusCode)
	}
	if got, _ := f.st.Exposure(t.Context(), x.ID); got.Status != model.StatusAccepted {
		t.Errorf("after triage, status = %s, want accepted", got.Status)
	}
	// The trail shows who decided, why and until when.
	_, _, page = get(t, admin, f.url+"/exposures/"+x.ID)
	for _, want := range []string{"open → accepted until 2099-01-31", "user:admin (approved by ciso)", "compensating control"} {
		if !strings.Contains(page, want) {
			t.Errorf("the exposure page after triage lacks %q", want)
		}
	}
	// A request from another origin is refused before any page runs.
	req, _ := http.NewRequest("POST", f.url+"/exposures/"+x.ID+"/triage", strings.NewReader("csrf="+good+"&status=open&reason=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if res, err := admin.Do(req); err != nil || res.StatusCode != http.StatusForbidden {
		t.Errorf("a cross-site POST = %v %v, want 403", res.StatusCode, err)
	}
}

// TestSignIn covers the sign-in form: a wrong password is refused with
// the same message as an unknown user, next never leaves the site, and
// signing out ends the session.
func TestSignIn(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := client()
	_, h, page := get(t, c, f.url+"/signin?next=//evil.example/x")
	if !strings.Contains(h.Get("Set-Cookie"), "HttpOnly") || !strings.Contains(page, `name="next" value="/"`) {
		t.Errorf("GET /signin?next=//evil.example = cookie %q, next kept in the form; want an HttpOnly cookie and next /", h.Get("Set-Cookie"))
	}
	tok := formToken(t, page)
	msgs := map[string]bool{}
	for _, name := range []string{"admin", "nobody"} {
		res, err := c.PostForm(f.url+"/signin", url.Values{"csrf": {tok}, "name": {name}, "password": {"wrong password"}})
		if err != nil {
			t.Fatal(err)
		}
		b := new(strings.Builder)
		_, _ = io_copy(b, res)
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("sign in as %s with a wrong password = %d, want 401", name, res.StatusCode)
		}
		_, msg, _ := strings.Cut(b.String(), `id="signin-error">`)
		msg, _, _ = strings.Cut(msg, "<")
		msgs[msg] = true
	}
	if len(msgs) != 1 {
		t.Errorf("sign-in refusals = %v, want one message for both", msgs)
	}
	res, err := c.PostForm(f.url+"/signin", url.Values{"csrf": {tok}, "name": {"admin"}, "password": {password}, "next": {"https://evil.example/"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		t.Errorf("sign in with next=https://evil.example = %d to %q, want 303 to /", res.StatusCode, res.Header.Get("Location"))
	}
	_, _, page = get(t, c, f.url+"/")
	res, err = c.PostForm(f.url+"/signout", url.Values{"csrf": {formToken(t, page)}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if st, _, _ := get(t, c, f.url+"/"); st != http.StatusSeeOther {
		t.Errorf("GET / after signing out = %d, want 303 to sign in", st)
	}
	// An uploader may sign in but reads nothing.
	up := f.signIn(t, "uploader")
	if st, _, _ := get(t, up, f.url+"/exposures"); st != http.StatusForbidden {
		t.Errorf("GET /exposures as an uploader = %d, want 403", st)
	}
}

func io_copy(w *strings.Builder, res *http.Response) (int64, error) {
	defer res.Body.Close()
	return io.Copy(w, res.Body)
}

// TestRoles checks that a viewer's pages offer no triage or upload, and
// that a viewer's triage form, posted anyway, is refused by the API's
// authorisation and changes nothing.
func TestRoles(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var xs server.Page[model.Exposure]
	f.api(t, nil, "/api/v1/exposures?limit=1&status=open", &xs)
	x := xs.Items[0]
	viewer, admin := f.signIn(t, "viewer"), f.signIn(t, "admin")
	_, _, vpage := get(t, viewer, f.url+"/exposures/"+x.ID)
	_, _, apage := get(t, admin, f.url+"/exposures/"+x.ID)
	if strings.Contains(vpage, `id="triage"`) || !strings.Contains(apage, `id="triage"`) {
		t.Errorf("the triage form is offered to the viewer %v and to the admin %v, want only the admin", strings.Contains(vpage, `id="triage"`), strings.Contains(apage, `id="triage"`))
	}
	_, _, vscans := get(t, viewer, f.url+"/scans")
	if strings.Contains(vscans, `id="upload"`) {
		t.Errorf("the upload form is offered to a viewer")
	}
	_, _, vaudit := get(t, viewer, f.url+"/")
	if strings.Contains(vaudit, `href="/audit"`) {
		t.Errorf("the audit log is linked for a viewer")
	}
	if st, _, _ := get(t, viewer, f.url+"/audit"); st != http.StatusForbidden {
		t.Errorf("GET /audit as a viewer = %d, want 403", st)
	}
	res, err := viewer.PostForm(f.url+"/exposures/"+x.ID+"/triage", url.Values{"csrf": {formToken(t, vpage)}, "status": {"false_positive"}, "reason": {"not mine"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("a viewer's triage = %d, want 403", res.StatusCode)
	}
	if got, _ := f.st.Exposure(t.Context(), x.ID); got.Status != model.StatusOpen {
		t.Errorf("after a viewer's refused triage, status = %s, want open", got.Status)
	}
}
