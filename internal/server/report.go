package server

import (
	"bytes"
	"cmp"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ctem-dev/ctem/internal/report"
)

// reportRoutes are the routes of the audit and executive report.
func (s *Server) reportRoutes() []route {
	return []route{
		{Name: "report", Method: "GET", Pattern: "/api/v1/report", Action: ActRead, Params: []string{"format", "since", "title"}, H: s.report},
	}
}

// maxTitle is the most characters a report's title may hold.
const maxTitle = 200

// report answers the report the command line's report writes, as HTML
// (under the page's own Content-Security-Policy, which allows no script
// and no load), Markdown or PDF (headless Chromium printing the HTML, one
// print at a time).
//
// A team-scoped principal is refused with 403: the report is the whole
// programme's (its evidence appendix lists every scan, every person's
// triage decision and the audit log's head digest), which a team may not
// read; its team's figures are GET /api/v1/kpis.
func (s *Server) report(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	format := cmp.Or(q.Get("format"), "html")
	if format != "html" && format != "markdown" && format != "pdf" {
		return badParam("format", "format must be html, markdown or pdf")
	}
	since := 90 * 24 * time.Hour
	if v := q.Get("since"); v != "" {
		n, err := strconv.Atoi(strings.TrimSuffix(v, "d"))
		if err != nil || !strings.HasSuffix(v, "d") || n < 1 || n > 3660 {
			return badParam("since", "since must be a number of days from 1d to 3660d")
		}
		since = time.Duration(n) * 24 * time.Hour
	}
	title := q.Get("title")
	if !utf8.ValidString(title) || utf8.RuneCountInString(title) > maxTitle {
		return badParam("title", "title must be UTF-8 text of at most %d characters", maxTitle)
	}
	ctx := r.Context()
	p := principal(ctx)
	if p.Team != "" {
		return errStatus(http.StatusForbidden, "the report covers the whole programme; a team-scoped principal reads its team's figures at /api/v1/kpis")
	}
	if format == "pdf" {
		if _, err := report.Browser(); err != nil {
			return errStatus(http.StatusServiceUnavailable, "this server cannot print PDF: no Chromium is installed (ask for format=html)")
		}
	}
	_, opt, err := s.kpiOptions(ctx, p, since)
	if err != nil {
		return err
	}
	rep, err := report.Gather(ctx, s.app, report.Options{Title: title, KPI: opt})
	if err != nil {
		return err
	}
	var b bytes.Buffer
	h := w.Header()
	switch format {
	case "html":
		err = report.HTML(&b, rep)
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", report.CSP)
		h.Set("Content-Disposition", `inline; filename="ctem-report.html"`)
	case "markdown":
		err = report.Markdown(&b, rep)
		h.Set("Content-Type", "text/markdown; charset=utf-8")
		h.Set("Content-Disposition", `inline; filename="ctem-report.md"`)
	default:
		// One print at a time: each runs a browser.
		select {
		case s.printing <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		err = report.PDF(ctx, &b, rep)
		<-s.printing
		if errors.Is(err, report.ErrNoBrowser) {
			return errStatus(http.StatusServiceUnavailable, "this server cannot print PDF: no Chromium is installed (ask for format=html)")
		}
		h.Set("Content-Type", "application/pdf")
		h.Set("Content-Disposition", `attachment; filename="ctem-report.pdf"`)
	}
	if err != nil {
		h.Del("Content-Type")
		h.Del("Content-Security-Policy")
		h.Del("Content-Disposition")
		return err
	}
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(b.Bytes())
	return err
}
