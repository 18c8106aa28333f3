// Package notify tells people about what needs them: a new validated
// attack path to a crown jewel, an SLA breach, a risk acceptance about to
// expire, a policy that asks for a notification. Events are gathered into
// one digest per run and channel (so nobody gets a hundred messages), sent
// to Slack or Microsoft Teams incoming webhooks or by e-mail (SMTP), and
// remembered so the next run sends only what is new. Every destination
// passes the outbound rules of package netguard; webhook URLs and SMTP
// passwords are secrets and never appear in an error or a log.
package notify

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Event kinds.
const (
	KindPath               = "path"
	KindSLABreach          = "sla-breach"
	KindAcceptanceExpiring = "acceptance-expiring"
	KindPolicy             = "policy"
)

// Event is one thing to tell.
type Event struct {
	Kind string `json:"kind"`
	// Key identifies the event across runs: a channel is told once per
	// key.
	Key string `json:"key"`
	// Title is one line; Detail, when set, a second one.
	Title  string `json:"title"`
	Detail string `json:"detail,omitempty"`
	Owner  string `json:"owner,omitempty"`
	// Rank orders events in a digest, highest first (a path's risk, a
	// breach's days overdue).
	Rank float64   `json:"rank"`
	At   time.Time `json:"at"`
}

// Message is the digest of one run for one channel.
type Message struct {
	Title  string  `json:"title"`
	Events []Event `json:"events"`
	// More counts the events left out of Events to keep the message
	// short; Counts is the number of events of each kind, all included.
	More   int            `json:"more"`
	Counts map[string]int `json:"counts"`
	At     time.Time      `json:"at"`
}

// kindTitle names a kind in a digest.
var kindTitle = map[string]string{
	KindPath:               "new validated attack paths to crown jewels",
	KindSLABreach:          "SLA breaches",
	KindAcceptanceExpiring: "risk acceptances expiring",
	KindPolicy:             "policy matches",
}

// kindOrder is the order kinds appear in a digest.
var kindOrder = []string{KindPath, KindSLABreach, KindAcceptanceExpiring, KindPolicy}

// Digest gathers events into one message that lists at most max of them
// (the highest ranked of each kind first, kinds in a fixed order) and
// counts the rest; max 0 is 20. It returns false when there is nothing to
// tell.
func Digest(events []Event, max int, now time.Time) (Message, bool) {
	if len(events) == 0 {
		return Message{}, false
	}
	if max <= 0 {
		max = 20
	}
	// Sort indexes by (kind, rank descending, key): a total order, so
	// the digest does not depend on the events' order; the events
	// themselves are not moved (they are large).
	order := func(k string) int {
		if i := slices.Index(kindOrder, k); i >= 0 {
			return i
		}
		return len(kindOrder)
	}
	kind := make([]int, len(events))
	idx := make([]int, len(events))
	for i, e := range events {
		kind[i], idx[i] = order(e.Kind), i
	}
	slices.SortFunc(idx, func(i, j int) int {
		if c := kind[i] - kind[j]; c != 0 {
			return c
		}
		a, b := &events[i], &events[j]
		switch {
		case a.Rank > b.Rank:
			return -1
		case a.Rank < b.Rank:
			return 1
		}
		return strings.Compare(a.Key, b.Key)
	})
	es := make([]Event, 0, min(len(idx), max))
	for _, i := range idx[:min(len(idx), max)] {
		es = append(es, events[i])
	}
	m := Message{Counts: map[string]int{}, At: now, Events: es, More: len(events) - len(es)}
	for _, e := range events {
		m.Counts[e.Kind]++
	}
	var parts []string
	for _, k := range kindOrder {
		if n := m.Counts[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, kindTitle[k]))
		}
	}
	m.Title = "ctem: " + strings.Join(parts, ", ")
	return m, true
}

// Sender sends a digest to one channel.
type Sender interface {
	// Name names the channel in ctem's records ("slack", "teams",
	// "email").
	Name() string
	// Send sends the message. Its error never carries the channel's
	// secret.
	Send(ctx context.Context, m Message) error
}

// clip shortens s to n runes.
func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// oneLine removes line breaks (event text comes from scanned data).
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
