package store

import (
	"context"
	"time"
)

// Webhook is a subscription: the events that are POSTed to URL, each
// signed with Secret.
type Webhook struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	Secret    string    `json:"-"`
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// DeletedAt is when the subscription was removed; zero while it is
	// in force.
	DeletedAt time.Time `json:"deleted_at,omitzero"`
}

// WebhookAttempt is one attempt to deliver an event to a webhook.
type WebhookAttempt struct {
	// JobID is the delivery's job; Attempt counts its attempts from 1.
	JobID     string    `json:"delivery"`
	Attempt   int       `json:"attempt"`
	WebhookID string    `json:"webhook"`
	Event     string    `json:"event"`
	At        time.Time `json:"at"`
	// Status is the receiver's HTTP status, 0 when none came back.
	Status int `json:"status"`
	// Error says why the attempt failed, empty when it succeeded.
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// Webhooks keeps webhook subscriptions and the record of deliveries.
type Webhooks interface {
	// CreateWebhook stores a subscription.
	CreateWebhook(ctx context.Context, w Webhook) error
	// ListWebhooks lists the subscriptions in force (all, removed ones
	// included, when all is true), by creation.
	ListWebhooks(ctx context.Context, all bool) ([]Webhook, error)
	// DeleteWebhook removes a subscription at time at; it returns an
	// error wrapping ErrNotFound when none in force has this id.
	DeleteWebhook(ctx context.Context, id string, at time.Time) error
	// RecordWebhookAttempt stores an attempt.
	RecordWebhookAttempt(ctx context.Context, a WebhookAttempt) error
	// PurgeWebhookAttempts deletes the delivery attempts made before
	// before and returns how many it deleted.
	PurgeWebhookAttempts(ctx context.Context, before time.Time) (int64, error)
	// WebhookAttempts lists a webhook's attempts, newest first; limit 0
	// is no limit.
	WebhookAttempts(ctx context.Context, webhookID string, limit int) ([]WebhookAttempt, error)
}

// ScheduledJobs extends the job queue with jobs that wait and jobs that
// are unique.
type ScheduledJobs interface {
	// EnqueueJobOnce stores j as queued unless a job with j.Key exists
	// already (queued, running or done); it reports whether it stored
	// it. Several servers on one database thus queue a periodic job
	// once per period.
	EnqueueJobOnce(ctx context.Context, j Job) (bool, error)
	// ClaimJobOf marks running the queued job of one of kinds that is
	// due (RunAt at or before at) and was queued first, and returns it,
	// or false when none is. Two claimers never get the same job.
	ClaimJobOf(ctx context.Context, at time.Time, kinds ...string) (Job, bool, error)
	// RetryJob queues a running job again, to run at runAt, keeping why
	// the last attempt failed.
	RetryJob(ctx context.Context, id string, runAt time.Time, errText string) error
	// PurgeJobs deletes the jobs that succeeded before succeededBefore
	// and those that failed before failedBefore (a zero time deletes
	// none of that state), and returns how many of each it deleted.
	// Queued and running jobs are never deleted. A purged unique job's
	// key is free again.
	PurgeJobs(ctx context.Context, succeededBefore, failedBefore time.Time) (succeeded, failed int64, err error)
}

// OutboxEvent is a path event an analysis recorded, with what a webhook
// says of its path.
type OutboxEvent struct {
	// Analysis is the id of the analysis that recorded the event.
	Analysis int64
	PathEvent
	Entry, Jewel string
	// Validated is whether every step of the path is evidenced now.
	Validated bool
}

// Outbox turns the path events that analyses record, in any process
// sharing the database, into webhook deliveries exactly once: a cursor
// names the last analysis whose events were turned, and moves in the
// transaction that queues their deliveries.
type Outbox interface {
	// OutboxEvents returns the position of the cursor name, the path
	// events of the first analyses after it (at most analyses of them),
	// oldest first, and the id of the last of those analyses: the
	// position to move to (pos when there is none).
	OutboxEvents(ctx context.Context, name string, analyses int) (pos, upTo int64, events []OutboxEvent, err error)
	// CommitOutbox queues jobs, each unless a job with its key exists,
	// and moves the cursor name from from to to, in one transaction. It
	// reports false and queues nothing when the cursor is no longer at
	// from (another process moved it).
	CommitOutbox(ctx context.Context, name string, from, to int64, jobs []Job) (bool, error)
}
