package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"unicode"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/postgres"
)

// handlerFunc is an HTTP handler that returns its error instead of
// writing it: one adapter (Server.adapt) turns every error into an RFC
// 9457 problem response.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// Problem is an RFC 9457 problem details object, with the request's id
// so that a client's report can be matched with the server's log.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Instance  string `json:"instance,omitempty"`
	RequestID string `json:"request_id"`
	// Field names the request parameter or body field at fault.
	Field string `json:"field,omitempty"`
}

// httpError is an error with the status and the client-safe message to
// answer it with; Cause, when set, is logged and never sent.
type httpError struct {
	Status int
	Detail string
	Field  string
	Cause  error
}

func (e *httpError) Error() string {
	if e.Cause != nil {
		return e.Detail + ": " + e.Cause.Error()
	}
	return e.Detail
}

func (e *httpError) Unwrap() error { return e.Cause }

// errStatus returns an httpError with this status and message.
func errStatus(status int, format string, args ...any) *httpError {
	return &httpError{Status: status, Detail: fmt.Sprintf(format, args...)}
}

// badParam is a 400 naming the query parameter at fault.
func badParam(field, format string, args ...any) *httpError {
	return &httpError{Status: http.StatusBadRequest, Field: field, Detail: fmt.Sprintf(format, args...)}
}

// classify maps an error to the status and client-safe detail to answer
// with: the one place where the application layer's errors meet HTTP.
// Errors about the caller's input carry their own message (which names
// the input, field or position and holds no server secret); anything
// else is a plain 500 whose cause only the log sees.
func classify(err error) (status int, detail, field string, internal bool) {
	var he *httpError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		return he.Status, he.Detail, he.Field, he.Status >= 500
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than this route accepts (%d bytes)", mbe.Limit), "", false
	case errors.Is(err, app.ErrNotFound):
		return http.StatusNotFound, safeText(err.Error()), "", false
	case errors.Is(err, store.ErrInvalid), app.IsBadInput(err):
		return http.StatusBadRequest, safeText(err.Error()), "", false
	case errors.Is(err, app.ErrConflict):
		return http.StatusConflict, "newer analysis results are stored; retry", "", false
	case errors.Is(err, context.Canceled):
		return 499, "the request was cancelled", "", false
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "the request took too long", "", true
	case postgres.Unavailable(err):
		return http.StatusServiceUnavailable, "the database cannot be reached; retry shortly", "", true
	}
	return http.StatusInternalServerError, "internal error; the server's log has the cause under this request id", "", true
}

// safeText keeps a message on one line without control characters, and
// short: it may quote the input.
func safeText(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	if len(s) > 1000 {
		s = s[:1000] + "…"
	}
	return s
}

// writeProblem writes a problem response.
func writeProblem(w http.ResponseWriter, r *http.Request, status int, detail, field string) {
	p := Problem{
		Type:      "about:blank",
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    detail,
		Instance:  r.URL.Path,
		RequestID: requestID(r.Context()),
		Field:     field,
	}
	if p.Title == "" {
		p.Title = "Client Closed Request"
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

// adapt turns a handlerFunc into an http.Handler: a returned error is
// classified, logged (with its cause when it is the server's fault) and
// written as a problem, unless the handler had begun its response.
func (s *Server) adapt(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec, _ := w.(*statusRecorder)
		err := h(w, r)
		if err == nil {
			return
		}
		status, detail, field, internal := classify(err)
		log := s.log.With("request_id", requestID(r.Context()), "method", r.Method, "path", r.URL.Path, "status", status)
		if internal {
			log.Error("request failed", "err", err)
		} else {
			log.Info("request refused", "err", safeText(err.Error()))
		}
		if rec != nil && rec.wrote {
			return // too late for a problem: the body has begun
		}
		writeProblem(w, r, status, detail, field)
	})
}

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyPrincipal
)

// newRequestID returns a random request id. The client's X-Request-Id
// is never trusted: it would let a client forge log lines.
func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(keyRequestID).(string)
	return id
}

// statusRecorder remembers the status a handler wrote, for the log, the
// metrics and the adapter.
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
	// beforeWrite, when set, runs once before the response is written.
	beforeWrite func()
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
		if r.beforeWrite != nil {
			r.beforeWrite()
		}
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if !r.wrote {
		r.status, r.wrote = http.StatusOK, true
		if r.beforeWrite != nil {
			r.beforeWrite()
		}
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// logAttrs are the attributes every request's log line carries.
func logAttrs(r *http.Request, status int) []slog.Attr {
	return []slog.Attr{slog.String("request_id", requestID(r.Context())), slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", status)}
}
