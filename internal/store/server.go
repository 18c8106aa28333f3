package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"iter"
	"time"
)

// Token is an API token as the store keeps it: everything but the token
// itself, of which only the SHA-256 digest is stored.
type Token struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Team      string    `json:"team,omitempty"`
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is zero for a token that does not expire.
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

// Tokens keeps API tokens.
type Tokens interface {
	// CreateToken stores t with the hex SHA-256 digest of its secret.
	CreateToken(ctx context.Context, t Token, hash string) error
	// TokenByHash returns the token whose secret has this digest, or an
	// error wrapping ErrNotFound (revoked and expired tokens are returned:
	// the caller decides).
	TokenByHash(ctx context.Context, hash string) (Token, error)
	// ListTokens lists every token, revoked ones included, by creation.
	ListTokens(ctx context.Context) ([]Token, error)
	// RevokeToken revokes the token with this id at time at; it returns
	// an error wrapping ErrNotFound when there is none, and keeps the
	// first revocation time of a token revoked twice.
	RevokeToken(ctx context.Context, id string, at time.Time) (Token, error)
	// TouchTokens records when each token (by id) was last used.
	TouchTokens(ctx context.Context, used map[string]time.Time) error
}

// AuditEntry is one entry of the audit log: who did what, when, from
// where, and how it ended.
type AuditEntry struct {
	// Seq numbers the entries from 1 without gaps.
	Seq int64     `json:"seq"`
	At  time.Time `json:"at"`
	// Actor names the principal ("token:ID:NAME", "cli:USER", or
	// "anonymous").
	Actor string `json:"actor"`
	// Remote is the client's address, empty for the command line.
	Remote string `json:"remote"`
	// Action is what was asked ("ingest", "triage", "scope.set",
	// "token.create", "token.revoke", "denied" ...).
	Action string `json:"action"`
	// Target names what it was asked of (an exposure id, a job id, a
	// route).
	Target string `json:"target"`
	// Outcome is "ok", "denied" or "error".
	Outcome string `json:"outcome"`
	// Detail says more, as JSON or text; never a secret.
	Detail string `json:"detail"`
	// PrevHash is the previous entry's Hash ("" for the first); Hash is
	// AuditHash of this entry.
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
}

// AuditHash returns the hex SHA-256 that chains e: it covers every field
// of e but Hash, PrevHash included, so that editing an entry changes its
// hash and deleting one breaks the next entry's PrevHash.
func AuditHash(e AuditEntry) string {
	b, _ := json.Marshal([]any{e.Seq, e.At.UTC().UnixMicro(), e.Actor, e.Remote, e.Action, e.Target, e.Outcome, e.Detail, e.PrevHash})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// AuditBrokenError names the first entry of an audit log whose chain
// does not hold, and why.
type AuditBrokenError struct {
	Seq    int64
	Reason string
}

func (e *AuditBrokenError) Error() string {
	return fmt.Sprintf("audit log broken at entry %d: %s", e.Seq, e.Reason)
}

// VerifyAudit reads a whole audit log in order and returns the number of
// entries and the last hash, or an *AuditBrokenError naming the first
// entry that was edited, or follows a deleted one. (Deleting the last
// entries cannot be seen from the log alone: compare the count and last
// hash with those recorded elsewhere.)
func VerifyAudit(entries iter.Seq2[AuditEntry, error]) (n int64, head string, err error) {
	prev := ""
	for e, err := range entries {
		if err != nil {
			return n, head, err
		}
		n++
		switch {
		case e.Seq != n:
			return n, head, &AuditBrokenError{n, fmt.Sprintf("entry %d is missing (found %d next)", n, e.Seq)}
		case e.PrevHash != prev:
			return n, head, &AuditBrokenError{e.Seq, "its previous hash is not the hash of the entry before (one was edited or deleted)"}
		case AuditHash(e) != e.Hash:
			return n, head, &AuditBrokenError{e.Seq, "its contents do not match its hash (it was edited)"}
		}
		prev, head = e.Hash, e.Hash
	}
	return n, head, nil
}

// Audit keeps the audit log.
type Audit interface {
	// AppendAudit appends e, numbering and chaining it in one write
	// transaction with the entry before, and returns it as stored.
	AppendAudit(ctx context.Context, e AuditEntry) (AuditEntry, error)
	// AuditLog lists the entries after seq after, oldest first; limit 0
	// is no limit.
	AuditLog(ctx context.Context, after int64, limit int) iter.Seq2[AuditEntry, error]
}

// Job states.
const (
	JobQueued    = "queued"
	JobRunning   = "running"
	JobSucceeded = "succeeded"
	JobFailed    = "failed"
)

// Job is a unit of background work in the database's queue.
type Job struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	State      string    `json:"state"`
	CreatedBy  string    `json:"created_by,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	Attempts   int       `json:"attempts"`
	// Params and Result are the job's input and output, as JSON.
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	// Error is why the job failed.
	Error string `json:"error,omitempty"`
	// RunAt is when a queued job may run (zero: at once); Key, when set,
	// makes the job unique (see ScheduledJobs).
	RunAt time.Time `json:"-"`
	Key   string    `json:"-"`
	// Lane, when set, orders the job among others (ClaimJobOf): jobs of
	// one lane run one at a time in creation order, "*" waits for every
	// older job with a lane and holds back every newer one. An ingest's
	// lane is the (tool, target) of its upload (store.ScanKey.Lane).
	Lane string `json:"-"`
}

// Jobs is a durable queue of jobs in the database.
type Jobs interface {
	// EnqueueJob stores j as queued.
	EnqueueJob(ctx context.Context, j Job) error
	// Job returns the job with this id, or an error wrapping ErrNotFound.
	Job(ctx context.Context, id string) (Job, error)
	// ClaimJob marks the oldest queued job running (counting the attempt)
	// and returns it, or false when none is queued.
	ClaimJob(ctx context.Context, at time.Time) (Job, bool, error)
	// FinishJob records a running job's end: state JobSucceeded with its
	// result, or JobFailed with its error.
	FinishJob(ctx context.Context, id, state string, result json.RawMessage, errText string, at time.Time) error
	// RequeueRunning queues again the jobs left running by a process that
	// stopped, and fails those already tried maxAttempts times; it
	// returns how many it requeued.
	RequeueRunning(ctx context.Context, maxAttempts int, at time.Time) (int, error)
	// QueueDepth returns how many jobs are queued or running.
	QueueDepth(ctx context.Context) (int, error)
	// RecentJobs returns the jobs q selects, newest first.
	RecentJobs(ctx context.Context, q JobQuery) ([]Job, error)
}

// JobQuery selects jobs for a listing, newest first. Empty fields select
// every job.
type JobQuery struct {
	Kind, State, CreatedBy string
	// BeforeAt and BeforeID, when BeforeID is set, continue a listing
	// after the job created then with that id.
	BeforeAt time.Time
	BeforeID string
	// Limit is the most jobs returned; 0 or less means 100.
	Limit int
}
