package ticket

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
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

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
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

// Do sends a request with body (nil for none) and returns the response
// body of a 2xx answer, retrying as the Client says; another answer is an
// *HTTPError.
func (c *Client) Do(ctx context.Context, method, url string, header http.Header, body []byte) ([]byte, http.Header, error) {
	attempts := c.Attempts
	if attempts <= 0 {
		attempts = 4
	}
	maxWait := c.MaxWait
	if maxWait <= 0 {
		maxWait = time.Minute
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	backoff := time.Second
	var last error
	for try := 1; ; try++ {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, url, rd)
		if err != nil {
			return nil, nil, err
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
		wait := backoff
		if err != nil {
			last = err // net/http's error names the method and URL
		} else {
			data, rerr := io.ReadAll(io.LimitReader(resp.Body, maxBody))
			resp.Body.Close()
			switch {
			case rerr != nil:
				last = fmt.Errorf("%s %s: %w", method, url, rerr)
			case resp.StatusCode >= 200 && resp.StatusCode < 300:
				return data, resp.Header, nil
			default:
				last = &HTTPError{Method: method, URL: url, Status: resp.StatusCode, Body: snippet(data)}
				if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode < 500 {
					return nil, nil, last
				}
				if ra := retryAfter(resp.Header.Get("Retry-After")); ra > 0 {
					wait = ra
				}
			}
		}
		if try >= attempts {
			return nil, nil, last
		}
		if err := c.sleep(ctx, min(wait, maxWait)); err != nil {
			return nil, nil, err
		}
		backoff *= 2
	}
}

// retryAfter reads Retry-After in seconds or as an HTTP date.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}

func snippet(b []byte) string {
	const max = 300
	s := string(b)
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}
