// Package webhook is ctem's generic tracker: each ticket change is POSTed
// as JSON to a URL, signed with HMAC-SHA256 over the timestamp and the
// body, so a receiver can check it came from ctem and is fresh. A webhook
// cannot be read back; ctem's own records are its state.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/ctem-dev/ctem/internal/ticket"
)

// Headers of a delivery.
const (
	HeaderEvent     = "X-Ctem-Event"
	HeaderTimestamp = "X-Ctem-Timestamp"
	HeaderSignature = "X-Ctem-Signature"
)

// Tracker posts ticket changes to a URL.
type Tracker struct {
	URL    string
	Secret []byte
	Client *ticket.Client
	// Now is the clock of the timestamps; nil is time.Now.
	Now func() time.Time
}

// Delivery is the JSON body of one delivery.
type Delivery struct {
	Event  string        `json:"event"`
	Ticket ticket.Ticket `json:"ticket"`
	Open   bool          `json:"open"`
	Why    string        `json:"why,omitempty"`
	At     time.Time     `json:"at"`
}

// Sign returns the signature of a delivery: "sha256=" and the hex
// HMAC-SHA256 of "TIMESTAMP.BODY" under secret.
func Sign(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether sig signs the delivery, comparing in constant
// time, and the timestamp is within skew of now: what a receiver does.
func Verify(secret []byte, timestamp string, body []byte, sig string, now time.Time, skew time.Duration) bool {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return false
	}
	if d := now.Sub(time.Unix(ts, 0)); d > skew || d < -skew {
		return false
	}
	return hmac.Equal([]byte(Sign(secret, timestamp, body)), []byte(sig))
}

// Name returns "webhook".
func (t *Tracker) Name() string { return "webhook" }

// List returns ticket.ErrNoList: a webhook cannot be read back.
func (t *Tracker) List(context.Context) ([]ticket.Remote, error) { return nil, ticket.ErrNoList }

func (t *Tracker) send(ctx context.Context, event string, tk ticket.Ticket, open bool, why string) error {
	now := time.Now()
	if t.Now != nil {
		now = t.Now()
	}
	body, err := json.Marshal(Delivery{Event: event, Ticket: tk, Open: open, Why: why, At: now.UTC()})
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	h := http.Header{}
	h.Set(HeaderEvent, event)
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderSignature, Sign(t.Secret, ts, body))
	_, _, err = t.Client.Do(ctx, http.MethodPost, t.URL, h, body)
	return err
}

// Create posts ticket.created.
func (t *Tracker) Create(ctx context.Context, tk ticket.Ticket) (ticket.Remote, error) {
	if err := t.send(ctx, "ticket.created", tk, true, ""); err != nil {
		return ticket.Remote{}, err
	}
	return ticket.Remote{Key: tk.Key, ID: tk.Key, Open: true, Digest: tk.Digest()}, nil
}

// Update posts ticket.updated.
func (t *Tracker) Update(ctx context.Context, _ ticket.Remote, tk ticket.Ticket) error {
	return t.send(ctx, "ticket.updated", tk, true, "")
}

// SetOpen posts ticket.closed or ticket.reopened.
func (t *Tracker) SetOpen(ctx context.Context, r ticket.Remote, tk ticket.Ticket, open bool, why string) error {
	tk.Key = r.Key
	ev := "ticket.closed"
	if open {
		ev = "ticket.reopened"
	}
	return t.send(ctx, ev, tk, open, why)
}
