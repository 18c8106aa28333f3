package ticket

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/ctem-dev/ctem/internal/retry"
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
	var resp *http.Response
	first := true
	pol := retry.Policy{Attempts: t.Attempts, MaxWait: t.MaxWait, Sleep: t.Sleep}
	err := pol.Do(req.Context(), 4, time.Minute, func(last bool) error {
		r := req
		if !first {
			if req.Body != nil && req.GetBody == nil {
				return errNoReplay
			}
			r = req.Clone(req.Context())
			if req.GetBody != nil {
				b, err := req.GetBody()
				if err != nil {
					return err
				}
				r.Body = b
			}
		}
		first = false
		var err error
		resp, err = base.RoundTrip(r)
		switch {
		case err != nil && last:
			return err
		case err != nil:
			return &retry.Again{Err: err}
		case last || !retry.Retryable(resp.StatusCode):
			return nil
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		return &retry.Again{Err: errStatus(resp.StatusCode), After: retry.After(resp.Header.Get("Retry-After"))}
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// errStatus is a retried answer's status, as the error between tries.
type errStatus int

func (e errStatus) Error() string { return http.StatusText(int(e)) }

type replayError struct{}

func (replayError) Error() string { return "request body cannot be sent again" }

var errNoReplay error = replayError{}
