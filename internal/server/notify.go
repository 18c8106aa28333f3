package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/ctem-dev/ctem/internal/notify"
	"github.com/ctem-dev/ctem/internal/store"
)

// jobNotify is the kind of the job that sends the notification digests.
const jobNotify = "notify"

// Notifications says how the server sends digests of what is new (paths
// to crown jewels, SLA breaches, expiring acceptances, notify policies)
// to its channels, as 'ctem notify' does: after each analysis it runs,
// and every Schedule.Notify. Without Senders it sends nothing.
type Notifications struct {
	// Senders are the channels; each is told once of each event.
	Senders []notify.Sender
	// AfterAnalysis queues a digest after every analysis the server runs
	// (an ingest's or a feeds update's).
	AfterAnalysis bool
	// Max is the most events a digest lists; 0 is 20.
	Max int
	// ExpiringWithin is how far ahead an acceptance's expiry is news; 0
	// is 7 days.
	ExpiringWithin time.Duration
}

// queueNotify queues the notification job under key (one job per key
// however many servers try), and wakes the worker.
func (s *Server) queueNotify(ctx context.Context, key string) {
	if len(s.notify.Senders) == 0 {
		return
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	ok, err := s.st.EnqueueJobOnce(ctx, store.Job{ID: hex.EncodeToString(id[:]), Kind: jobNotify, CreatedBy: "ctem:notify", CreatedAt: s.now(), Key: key})
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("queue notifications", "key", key, "err", err)
		}
		return
	}
	if ok {
		s.poke()
	}
}

// sendNotifications gathers the events of the current data and sends each
// channel a digest of those it was not told of before.
func (s *Server) sendNotifications(ctx context.Context) (any, error) {
	events, err := notify.Collect(ctx, s.app, notify.CollectOptions{ExpiringWithin: s.notify.ExpiringWithin})
	if err != nil {
		return nil, err
	}
	recs, _ := s.app.Store.(store.Notifications)
	out, err := notify.Run(ctx, recs, s.notify.Senders, events, s.notify.Max, false, s.now())
	res := map[string]map[string]int{}
	for _, o := range out {
		res[o.Channel] = map[string]int{"sent": o.Sent, "already": o.Already}
		if o.Error != "" {
			res[o.Channel]["failed"] = 1
		}
	}
	return res, err
}

// notifyAfter queues the digest that follows analysis id, when the server
// notifies after analyses.
func (s *Server) notifyAfter(ctx context.Context, id int64) {
	if s.notify.AfterAnalysis {
		s.queueNotify(ctx, jobNotify+"@analysis:"+strconv.FormatInt(id, 10))
	}
}
