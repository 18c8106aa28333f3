package ticket

import (
	"context"
	"io"
	"net/http"
	"time"
)

// Transport is an http.RoundTripper that retries as Client does (429 or
// 503 with Retry-After, other 5xx and transport errors with backoff), for
// tracker libraries that bring their own client (go-github).
type Transport struct {
	Base     http.RoundTripper
	Attempts int
	MaxWait  time.Duration
	Sleep    func(ctx context.Context, d time.Duration) error
}

// RoundTrip sends the request, again when the answer says to retry. A
// request whose body cannot be read again is sent once.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	c := &Client{Attempts: t.Attempts, MaxWait: t.MaxWait, Sleep: t.Sleep}
	attempts := c.Attempts
	if attempts <= 0 {
		attempts = 4
	}
	maxWait := c.MaxWait
	if maxWait <= 0 {
		maxWait = time.Minute
	}
	backoff := time.Second
	for try := 1; ; try++ {
		r := req
		if try > 1 {
			if req.Body != nil && req.GetBody == nil {
				return nil, errNoReplay
			}
			r = req.Clone(req.Context())
			if req.GetBody != nil {
				b, err := req.GetBody()
				if err != nil {
					return nil, err
				}
				r.Body = b
			}
		}
		resp, err := base.RoundTrip(r)
		wait := backoff
		retry := err != nil
		if err == nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500) {
			retry = true
			if ra := retryAfter(resp.Header.Get("Retry-After")); ra > 0 {
				wait = ra
			}
		}
		if !retry || try >= attempts {
			return resp, err
		}
		if resp != nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
			resp.Body.Close()
		}
		if err := c.sleep(req.Context(), min(wait, maxWait)); err != nil {
			return nil, err
		}
		backoff *= 2
	}
}

type replayError struct{}

func (replayError) Error() string { return "request body cannot be sent again" }

var errNoReplay error = replayError{}
