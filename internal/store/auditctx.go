package store

import (
	"context"
	"sync/atomic"
)

// The kinds of change an audit note may be attached to (see WithAudit).
const (
	AuditIngest  = "ingest"  // an ingest transaction (Tx.Commit)
	AuditTriage  = "triage"  // Triage
	AuditExpire  = "expire"  // ExpireAcceptances
	AuditScope   = "scope"   // SetScope
	AuditToken   = "token"   // CreateToken, RevokeToken
	AuditJob     = "job"     // EnqueueJob
	AuditWebhook = "webhook" // CreateWebhook, DeleteWebhook
	// AuditCodeOwners is SetCodeOwners; AuditScanRemove is RemoveScan.
	AuditCodeOwners = "codeowners"
	AuditScanRemove = "scan-remove"
)

// AuditFunc builds the audit entries of a change from its result: a
// StatusChange (triage), a []StatusChange (expiry), a ScopeVersion, a
// Token, a Job, a Webhook or its id, a CodeOwnersVersion, a ScanRemoval,
// nil for an ingest.
type AuditFunc func(result any) []AuditEntry

// auditNote is an AuditFunc waiting for the change of its kind.
type auditNote struct {
	kind string
	f    AuditFunc
	done atomic.Bool
}

type auditKey struct{}

// WithAudit returns a context that asks the store to append the entries
// f builds to the audit log in the same transaction as the next change
// of this kind made with it: the change and its record commit together
// or not at all. The note is used once; changes of other kinds made with
// the context (an ingest's acceptance rules, say) ignore it.
func WithAudit(ctx context.Context, kind string, f AuditFunc) context.Context {
	return context.WithValue(ctx, auditKey{}, &auditNote{kind: kind, f: f})
}

// AuditFor returns the audit note of ctx for a change of this kind, nil
// when there is none or it was used.
func AuditFor(ctx context.Context, kind string) AuditFunc {
	n, _ := ctx.Value(auditKey{}).(*auditNote)
	if n == nil || n.kind != kind || n.done.Load() {
		return nil
	}
	return n.f
}

// AuditUsed marks the note of ctx used, once its change committed.
func AuditUsed(ctx context.Context) {
	if n, _ := ctx.Value(auditKey{}).(*auditNote); n != nil {
		n.done.Store(true)
	}
}

// Audited reports whether the note of ctx was used: the change it
// describes was made and recorded.
func Audited(ctx context.Context) bool {
	n, _ := ctx.Value(auditKey{}).(*auditNote)
	return n != nil && n.done.Load()
}
