package store

import (
	"context"
	"iter"
	"time"
)

// SLABreach is an exposure found past its SLA due date.
type SLABreach struct {
	ExposureID string    `json:"exposure_id"`
	Due        time.Time `json:"due"`
	Rule       string    `json:"rule"`
	Owner      string    `json:"owner,omitempty"`
	// At is when the breach was first recorded.
	At time.Time `json:"at"`
}

// AcceptanceRule is a risk acceptance by scope: one exposure (ExposureID),
// a vulnerability on one asset (VulnID and Asset), a vulnerability
// everywhere (VulnID alone), or an attack path (PathID, its stable id:
// every exposure on it, and the path itself).
type AcceptanceRule struct {
	ID         string    `json:"id"`
	ExposureID string    `json:"exposure_id,omitempty"`
	VulnID     string    `json:"vuln_id,omitempty"`
	Asset      string    `json:"asset,omitempty"`
	PathID     string    `json:"path_id,omitempty"`
	Reason     string    `json:"reason"`
	By         string    `json:"by"`
	Approver   string    `json:"approver"`
	Expires    time.Time `json:"expires"`
	At         time.Time `json:"at"`
}

// Ticket is ctem's record of the ticket of one remediation action in one
// tracker.
type Ticket struct {
	ActionKey string `json:"action_key"`
	Tracker   string `json:"tracker"`
	External  string `json:"external"`
	URL       string `json:"url,omitempty"`
	// State is "open" or "closed" as ctem last left or saw it,
	// "wontfix" when people closed it without a fix, "verifying" when
	// they closed it as done and the next scan is to tell.
	State string `json:"state"`
	// Digest is the digest of the content ctem last wrote.
	Digest string    `json:"digest,omitempty"`
	At     time.Time `json:"at"`
	// VerifyScan, in state verifying, is the newest scan when people
	// closed the ticket: a newer scan that still needs the action
	// reopens it.
	VerifyScan string `json:"verify_scan,omitempty"`
}

// Mobilisation stores what mobilisation decides and tracks: SLA breach
// events, acceptance rules and tickets.
type Mobilisation interface {
	// RecordBreaches stores the breaches not stored before (one per
	// exposure and due date) and returns those, the new events.
	RecordBreaches(ctx context.Context, bs []SLABreach) ([]SLABreach, error)
	// Breaches lists the recorded breaches, newest first.
	Breaches(ctx context.Context) iter.Seq2[SLABreach, error]
	// AddAcceptanceRule stores an acceptance rule.
	AddAcceptanceRule(ctx context.Context, r AcceptanceRule) error
	// AcceptanceRules lists the acceptance rules, oldest first.
	AcceptanceRules(ctx context.Context) iter.Seq2[AcceptanceRule, error]
	// PutTicket stores (or replaces) the record of a ticket.
	PutTicket(ctx context.Context, t Ticket) error
	// Tickets lists the tickets of one tracker, by action key.
	Tickets(ctx context.Context, tracker string) iter.Seq2[Ticket, error]
}

// Notice records that a channel was told of an event.
type Notice struct {
	Channel string    `json:"channel"`
	Key     string    `json:"key"`
	Kind    string    `json:"kind"`
	At      time.Time `json:"at"`
}

// Notifications is implemented by stores that remember which events each
// notification channel was told of, so a channel hears of each once.
type Notifications interface {
	// Notified returns which of keys channel was told of before.
	Notified(ctx context.Context, channel string, keys []string) (map[string]bool, error)
	// MarkNotified records the notices; one recorded before is kept.
	MarkNotified(ctx context.Context, ns []Notice) error
}
