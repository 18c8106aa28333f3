package ticket

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/ctem-dev/ctem/internal/retry"
)

// maxBody bounds what ctem reads of a tracker's response.
const maxBody = 8 << 20

// Client sends requests to a tracker, honouring its rate limits: a 429 or
// 503 with Retry-After waits that long (at most MaxWait), another 5xx or
// a transport error waits with exponential backoff, up to Attempts
// tries. Credentials are set by the caller's Auth and never logged.
type Client struct {
	HTTP *http.Client
	// Auth sets the credentials on a request; nil sends none.
	Auth func(*http.Request)
	// Attempts is the most tries of one request; 0 is 4.
	Attempts int
	// MaxWait bounds one wait; 0 is one minute.
	MaxWait time.Duration
	// Sleep waits; nil is a timer that honours the context.
	Sleep func(ctx context.Context, d time.Duration) error
}

// HTTPError is a response a tracker refused.
type HTTPError struct {
	Method, URL string
	Status      int
	Body        string
}

// Error names the request and the tracker's answer.
func (e *HTTPError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.URL, e.Status, e.Body)
}

// Do sends a request with body (nil for none) and returns the response
// body of a 2xx answer, retrying as the Client says; another answer is an
// *HTTPError.
func (c *Client) Do(ctx context.Context, method, url string, header http.Header, body []byte) ([]byte, http.Header, error) {
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	var data []byte
	var got http.Header
	pol := retry.Policy{Attempts: c.Attempts, MaxWait: c.MaxWait, Sleep: c.Sleep}
	err := pol.Do(ctx, 4, time.Minute, func(bool) error {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, url, rd)
		if err != nil {
			return err
		}
		for k, vs := range header {
			req.Header[k] = vs
		}
		if body != nil && req.Header.Get("Content-Type") == "" {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Accept", "application/json")
		if c.Auth != nil {
			c.Auth(req)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return &retry.Again{Err: err} // net/http's error names the method and URL
		}
		b, rerr := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		switch {
		case rerr != nil:
			return &retry.Again{Err: fmt.Errorf("%s %s: %w", method, url, rerr)}
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			data, got = b, resp.Header
			return nil
		}
		herr := &HTTPError{Method: method, URL: url, Status: resp.StatusCode, Body: snippet(b)}
		if !retry.Retryable(resp.StatusCode) {
			return herr
		}
		return &retry.Again{Err: herr, After: retry.After(resp.Header.Get("Retry-After"))}
	})
	if err != nil {
		return nil, nil, err
	}
	return data, got, nil
}

func snippet(b []byte) string {
	const max = 300
	s := string(b)
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}
