package ticket

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/ctem-dev/ctem/internal/store"
)

// Change is one thing a sync did (or, in a dry run, would do).
type Change struct {
	// Op is create, update, close, reopen, acceptance-request, verify
	// or verified.
	Op     string `json:"op"`
	Key    string `json:"key"`
	ID     string `json:"id,omitempty"`
	Title  string `json:"title"`
	Reason string `json:"reason"`
}

// Result is what a sync did.
type Result struct {
	Tracker string   `json:"tracker"`
	DryRun  bool     `json:"dry_run"`
	Changes []Change `json:"changes"`
	// Unchanged counts the tickets already in step.
	Unchanged int `json:"unchanged"`
}

// Sync brings the tracker's tickets in step with want, the tickets of
// the current fix plan: a missing ticket is created; one whose content
// changed is updated; a closed one is reopened (the action is needed
// again: a regression) unless it was closed as won't fix, which is read
// back as a risk-acceptance request instead; an open ticket whose action
// left the plan is closed (the fix is in). Each change is recorded in
// recs as soon as the tracker took it, so a sync that fails half-way
// leaves ctem's records matching what exists, and running it again
// completes it. Running it twice changes nothing the second time. With
// dryRun nothing is written anywhere. A ticket people closed as done is
// reopened at once; SyncWith can wait for the next scan instead.
func Sync(ctx context.Context, tr Tracker, recs store.Mobilisation, want []Ticket, dryRun bool, now time.Time) (*Result, error) {
	return SyncWith(ctx, tr, recs, want, Options{DryRun: dryRun, Now: now})
}

// Options tunes SyncWith.
type Options struct {
	DryRun bool
	Now    time.Time
	// LatestScan is the id of the newest scan. When set, a ticket people
	// closed as done while its action is still in the plan is not
	// reopened at once: it is recorded as verifying (op "verify"), and
	// reopened only when a newer scan still needs the action (op
	// "reopen"); if the action leaves the plan meanwhile, the fix is
	// verified (op "verified").
	LatestScan string
}

// SyncWith is Sync with Options.
func SyncWith(ctx context.Context, tr Tracker, recs store.Mobilisation, want []Ticket, opt Options) (*Result, error) {
	dryRun, now := opt.DryRun, opt.Now
	res := &Result{Tracker: tr.Name(), DryRun: dryRun, Changes: []Change{}}
	local := map[string]store.Ticket{}
	for t, err := range recs.Tickets(ctx, tr.Name()) {
		if err != nil {
			return nil, err
		}
		local[t.ActionKey] = t
	}
	remote := map[string]Remote{}
	listed, err := tr.List(ctx)
	switch {
	case errors.Is(err, ErrNoList):
		// The tracker cannot be read: ctem's records are the state.
		for k, t := range local {
			remote[k] = Remote{Key: k, ID: t.External, URL: t.URL, Open: t.State == "open", WontFix: t.State == "wontfix", Digest: t.Digest}
		}
	case err != nil:
		return nil, fmt.Errorf("list %s tickets: %w", tr.Name(), err)
	default:
		for _, r := range listed {
			if r.Digest == "" {
				r.Digest = local[r.Key].Digest
			}
			remote[r.Key] = r
		}
	}
	record := func(t Ticket, r Remote, state string) error {
		if dryRun {
			return nil
		}
		return recs.PutTicket(ctx, store.Ticket{ActionKey: t.Key, Tracker: tr.Name(), External: r.ID, URL: r.URL, State: state, Digest: t.Digest(), At: now})
	}
	wanted := map[string]bool{}
	for _, t := range want {
		wanted[t.Key] = true
		r, ok := remote[t.Key]
		switch {
		case !ok:
			res.Changes = append(res.Changes, Change{Op: "create", Key: t.Key, Title: t.Title, Reason: "new remediation action"})
			if dryRun {
				continue
			}
			r, err := tr.Create(ctx, t)
			if err != nil {
				return res, fmt.Errorf("create %s ticket %s: %w", tr.Name(), t.Key, err)
			}
			res.Changes[len(res.Changes)-1].ID = r.ID
			if err := record(t, r, "open"); err != nil {
				return res, err
			}
		case !r.Open && r.WontFix:
			if l := local[t.Key]; l.State == "wontfix" {
				res.Unchanged++
				continue
			}
			res.Changes = append(res.Changes, Change{Op: "acceptance-request", Key: t.Key, ID: r.ID, Title: t.Title,
				Reason: "closed as won't fix: accept the risk with 'ctem accept' (reason, approver, expiry) or reopen it"})
			if err := record(t, r, "wontfix"); err != nil {
				return res, err
			}
		case !r.Open && opt.LatestScan != "" && local[t.Key].State == "open":
			// People closed it as done: the next scan tells.
			res.Changes = append(res.Changes, Change{Op: "verify", Key: t.Key, ID: r.ID, Title: t.Title,
				Reason: "closed as done: the next scan verifies the fix, and reopens it if the action is still needed"})
			if dryRun {
				continue
			}
			if err := recs.PutTicket(ctx, store.Ticket{ActionKey: t.Key, Tracker: tr.Name(), External: r.ID, URL: r.URL, State: "verifying",
				Digest: local[t.Key].Digest, At: now, VerifyScan: opt.LatestScan}); err != nil {
				return res, err
			}
		case !r.Open && opt.LatestScan != "" && local[t.Key].State == "verifying" && local[t.Key].VerifyScan == opt.LatestScan:
			// Still waiting for a scan.
			res.Unchanged++
		case !r.Open:
			why := "regression: the action is in the fix plan again"
			if local[t.Key].State == "verifying" {
				why = "not fixed: a scan after the ticket was closed as done still needs the action"
			}
			res.Changes = append(res.Changes, Change{Op: "reopen", Key: t.Key, ID: r.ID, Title: t.Title, Reason: why})
			if dryRun {
				continue
			}
			if err := tr.SetOpen(ctx, r, t, true, "Reopened by ctem: the latest analysis needs this action again."); err != nil {
				return res, fmt.Errorf("reopen %s ticket %s: %w", tr.Name(), r.ID, err)
			}
			if r.Digest != t.Digest() {
				if err := tr.Update(ctx, r, t); err != nil {
					return res, fmt.Errorf("update %s ticket %s: %w", tr.Name(), r.ID, err)
				}
			}
			if err := record(t, r, "open"); err != nil {
				return res, err
			}
		case r.Digest != t.Digest():
			res.Changes = append(res.Changes, Change{Op: "update", Key: t.Key, ID: r.ID, Title: t.Title, Reason: "the action's exposures or risk changed"})
			if dryRun {
				continue
			}
			if err := tr.Update(ctx, r, t); err != nil {
				return res, fmt.Errorf("update %s ticket %s: %w", tr.Name(), r.ID, err)
			}
			if err := record(t, r, "open"); err != nil {
				return res, err
			}
		default:
			res.Unchanged++
		}
	}
	for _, key := range slices.Sorted(maps.Keys(remote)) {
		r := remote[key]
		if !wanted[key] && !r.Open && local[key].State == "verifying" {
			// Closed as done, and the action left the plan: verified.
			res.Changes = append(res.Changes, Change{Op: "verified", Key: key, ID: r.ID, Reason: "fixed: the action left the fix plan after the ticket was closed as done"})
			if !dryRun {
				if err := recs.PutTicket(ctx, store.Ticket{ActionKey: key, Tracker: tr.Name(), External: r.ID, URL: r.URL, State: "closed", Digest: r.Digest, At: now}); err != nil {
					return res, err
				}
			}
			continue
		}
		if wanted[key] || !r.Open {
			continue
		}
		t := Ticket{Key: key}
		res.Changes = append(res.Changes, Change{Op: "close", Key: key, ID: r.ID, Reason: "fixed: the action left the fix plan"})
		if dryRun {
			continue
		}
		if err := tr.SetOpen(ctx, r, t, false, "Closed by ctem: the latest analysis no longer needs this action (fixed). Verified on the next scan."); err != nil {
			return res, fmt.Errorf("close %s ticket %s: %w", tr.Name(), r.ID, err)
		}
		if err := recs.PutTicket(ctx, store.Ticket{ActionKey: key, Tracker: tr.Name(), External: r.ID, URL: r.URL, State: "closed", Digest: r.Digest, At: now}); err != nil {
			return res, err
		}
	}
	return res, nil
}
