// Package retry is the one retry loop of ctem's outbound HTTP clients
// (ticket trackers, chat webhooks): a bounded number of tries, waits that
// double from one second, a server's Retry-After honoured up to a bound,
// and a sleep that ends with the context.
package retry

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// Policy bounds the retries of one request.
type Policy struct {
	// Attempts is the most tries; 0 takes the caller's default.
	Attempts int
	// MaxWait bounds one wait; 0 takes the caller's default.
	MaxWait time.Duration
	// Sleep waits; nil waits on a timer that honours the context.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Again is the error of a try worth repeating: a transport error, a 429
// or a 5xx answer. After, when positive, is how long the server asked to
// wait (its Retry-After) instead of the backoff.
type Again struct {
	Err   error
	After time.Duration
}

// Error returns the wrapped error's text.
func (a *Again) Error() string { return a.Err.Error() }

// Unwrap returns the wrapped error.
func (a *Again) Unwrap() error { return a.Err }

// Do calls try until it returns nil or an error that is not an *Again,
// or until the policy's tries are spent (then the last error, unwrapped
// from its *Again), waiting between tries. try learns whether it is the
// last one, so that it can keep an answer it would otherwise retry.
// defAttempts and defMaxWait stand for the policy's zero values.
func (p Policy) Do(ctx context.Context, defAttempts int, defMaxWait time.Duration, try func(last bool) error) error {
	attempts, maxWait := p.Attempts, p.MaxWait
	if attempts <= 0 {
		attempts = defAttempts
	}
	if maxWait <= 0 {
		maxWait = defMaxWait
	}
	backoff := time.Second
	for n := 1; ; n++ {
		err := try(n >= attempts)
		again, ok := errors.AsType[*Again](err)
		if err == nil || !ok {
			return err
		}
		if n >= attempts {
			return again.Err
		}
		wait := backoff
		if again.After > 0 {
			wait = again.After
		}
		if err := p.sleep(ctx, min(wait, maxWait)); err != nil {
			return err
		}
		backoff *= 2
	}
}

func (p Policy) sleep(ctx context.Context, d time.Duration) error {
	if p.Sleep != nil {
		return p.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Retryable reports whether an HTTP status is worth another try: 429
// and every 5xx.
func Retryable(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

// After reads a Retry-After header, in seconds or as an HTTP date; 0
// when it is absent, malformed or in the past, at most a day.
func After(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
		// A day is more than any wait is allowed; larger counts would
		// overflow a Duration.
		return time.Duration(min(n, 86400)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(time.Until(t), 0), 24*time.Hour)
	}
	return 0
}
