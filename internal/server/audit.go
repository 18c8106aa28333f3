package server

import (
	"context"
	"net"
	"net/http"

	"github.com/ctem-dev/ctem/internal/store"
)

// entry is an audit entry: who (the principal), from where (the
// client's address as the connection shows it; a proxy's
// X-Forwarded-For is not trusted), what and how it ended.
func (s *Server) entry(r *http.Request, p *Principal, action, target, outcome, detail string) store.AuditEntry {
	return store.AuditEntry{At: s.now(), Actor: p.String(), Remote: remoteHost(r), Action: action, Target: target, Outcome: outcome, Detail: detail}
}

// withAudit returns r's context carrying an audit note for the next
// change of this kind: the store appends the entry that build makes from
// the change's result in the change's own transaction (see
// store.WithAudit), so a change is never without its record nor a record
// without its change.
func (s *Server) withAudit(r *http.Request, kind, action string, build func(result any) (target, detail string)) context.Context {
	p := principal(r.Context())
	return store.WithAudit(r.Context(), kind, func(res any) []store.AuditEntry {
		target, detail := build(res)
		return []store.AuditEntry{s.entry(r, p, action, target, "ok", detail)}
	})
}

// audit appends an entry on its own: for what changes nothing (a denied
// request, a change that was a no-op). A failure to write it is logged.
func (s *Server) audit(r *http.Request, p *Principal, action, target, outcome, detail string) {
	e := s.entry(r, p, action, target, outcome, detail)
	if _, err := s.st.AppendAudit(r.Context(), e); err != nil {
		s.log.Error("append audit entry", "err", err, "action", action, "request_id", requestID(r.Context()))
	}
}

// remoteHost is the client's address as the connection shows it.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
