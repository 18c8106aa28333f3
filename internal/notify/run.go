package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ctem-dev/ctem/internal/store"
)

// Outcome is what a run did on one channel.
type Outcome struct {
	Channel string `json:"channel"`
	// Sent counts the events the digest told (listed or counted);
	// Already those the channel was told of before.
	Sent    int      `json:"sent"`
	Already int      `json:"already"`
	Message *Message `json:"message,omitempty"`
	Error   string   `json:"error,omitempty"`
}

// Run tells each sender (of the events it wants, for a channel limited
// to a team: see ForTeam), in one digest listing at most max events, the
// events it was not told of before (recs, when not nil, remembers), and
// records them once the sender took the message: a channel that failed
// is told again on the next run, the others are not. With dryRun nothing
// is sent or recorded; the outcomes carry the digests that would be sent.
// The errors of the channels that failed are returned joined, after
// every channel was tried.
func Run(ctx context.Context, recs store.Notifications, senders []Sender, events []Event, max int, dryRun bool, now time.Time) ([]Outcome, error) {
	keys := make([]string, 0, len(events))
	seen := map[string]bool{}
	var uniq []Event
	for _, e := range events {
		if !seen[e.Key] {
			seen[e.Key] = true
			keys = append(keys, e.Key)
			uniq = append(uniq, e)
		}
	}
	var out []Outcome
	var errs []error
	for _, s := range senders {
		o := Outcome{Channel: s.Name()}
		told := map[string]bool{}
		if recs != nil {
			var err error
			if told, err = recs.Notified(ctx, s.Name(), keys); err != nil {
				return out, err
			}
		}
		var fresh []Event
		w, routed := s.(interface{ Wants(Event) bool })
		for _, e := range uniq {
			if routed && !w.Wants(e) {
				continue
			}
			if told[e.Key] {
				o.Already++
			} else {
				fresh = append(fresh, e)
			}
		}
		m, ok := Digest(fresh, max, now)
		if !ok {
			out = append(out, o)
			continue
		}
		o.Message = &m
		if dryRun {
			o.Sent = len(fresh)
			out = append(out, o)
			continue
		}
		if err := s.Send(ctx, m); err != nil {
			o.Error = err.Error()
			errs = append(errs, fmt.Errorf("notify %s: %w", s.Name(), err))
			out = append(out, o)
			continue
		}
		o.Sent = len(fresh)
		if recs != nil {
			ns := make([]store.Notice, 0, len(fresh))
			for _, e := range fresh {
				ns = append(ns, store.Notice{Channel: s.Name(), Key: e.Key, Kind: e.Kind, At: now})
			}
			if err := recs.MarkNotified(ctx, ns); err != nil {
				return out, err
			}
		}
		out = append(out, o)
	}
	return out, errors.Join(errs...)
}
