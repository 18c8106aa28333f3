package server

import (
	"net"
	"net/http"

	"github.com/ctem-dev/ctem/internal/store"
)

// audit appends an entry to the audit log: who (the principal), from
// where (the client's address as the connection shows it; a proxy's
// X-Forwarded-For is not trusted), what and how it ended. A failure to
// write it is logged: the change it records is already made. (Writing
// the entry in the change's own transaction needs the application
// layer's writes to take a transaction from outside; for now the entry
// follows the change.)
func (s *Server) audit(r *http.Request, p *Principal, action, target, outcome, detail string) {
	e := store.AuditEntry{At: s.now(), Actor: p.String(), Remote: remoteHost(r), Action: action, Target: target, Outcome: outcome, Detail: detail}
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
