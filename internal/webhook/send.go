package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Result is how one delivery attempt ended.
type Result struct {
	// Status is the receiver's HTTP status, 0 when none came back.
	Status   int
	Duration time.Duration
	// Retry is true when a later attempt may succeed (a transport error,
	// 408, 429 or 5xx); false after a success or a refusal that will not
	// change (another 4xx, a 3xx, a destination the guard refuses).
	Retry bool
}

// Send POSTs one delivery of body (a Payload as JSON) to dest, signed
// with secret at now. It returns an error for anything but a 2xx answer.
func Send(ctx context.Context, c *http.Client, dest string, secret []byte, event, id string, body []byte, now time.Time) (Result, error) {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, dest, bytes.NewReader(body))
	if err != nil {
		return Result{}, fmt.Errorf("webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ctem-webhook/1")
	req.Header.Set(HeaderEvent, event)
	req.Header.Set(HeaderDelivery, id)
	req.Header.Set(HeaderSignature, Sign(secret, now.Unix(), body))
	resp, err := c.Do(req)
	res := Result{Duration: time.Since(start)}
	if err != nil {
		// A refused address stays refused; anything else may pass later.
		res.Retry = !errors.Is(err, ErrForbiddenAddress)
		return res, fmt.Errorf("post: %w", err)
	}
	// Read a little of the answer so the connection can be reused; the
	// receiver's words are not kept (they could be anything).
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	res.Status = resp.StatusCode
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return res, nil
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		res.Retry = true
	}
	return res, fmt.Errorf("receiver answered %d", resp.StatusCode)
}
