// Package webhook sends ctem's events out: each delivery is a JSON POST
// signed with HMAC-SHA256 over a timestamp and the body, through an HTTP
// client that refuses to reach loopback, link-local, private and other
// internal addresses (the server-side request forgery a tool that POSTs
// to user-given URLs invites) unless told to.
//
// A delivery carries these headers:
//
//	X-Ctem-Event: path.opened
//	X-Ctem-Delivery: 3f9c0a1b2c3d4e5f          (the same on every retry)
//	X-Ctem-Signature: t=1764750000,v1=5d41...   (hex HMAC-SHA256)
//
// v1 is the HMAC-SHA256, under the subscription's secret, of the
// timestamp t in decimal seconds, a full stop, and the raw body. A
// receiver recomputes it, compares in constant time (Verify does), and
// refuses a timestamp too far from its clock, so that a captured
// delivery cannot be replayed later.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The events a webhook may subscribe to.
const (
	// PathOpened: an analysis found an attack path that was not open.
	PathOpened = "path.opened"
	// PathClosed: an open attack path is no longer found.
	PathClosed = "path.closed"
	// PathValidated: an opened path to a crown jewel whose every step is
	// evidenced (graph.Path.Validated), sent besides path.opened.
	PathValidated = "path.validated"
	// SLABreach: an exposure passed its SLA due date (once per due date).
	SLABreach = "sla.breach"
)

// Events lists every event, in the order the documentation gives them.
var Events = []string{PathOpened, PathClosed, PathValidated, SLABreach}

// Headers of a delivery.
const (
	HeaderEvent     = "X-Ctem-Event"
	HeaderDelivery  = "X-Ctem-Delivery"
	HeaderSignature = "X-Ctem-Signature"
)

// ParseEvents reads a comma-separated list of events, refusing unknown
// ones and empty lists; the result is sorted without duplicates.
func ParseEvents(s string) ([]string, error) {
	var out []string
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if !slices.Contains(Events, e) {
			return nil, fmt.Errorf("unknown event %q (want %s)", e, strings.Join(Events, ", "))
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no event given (want some of %s)", strings.Join(Events, ", "))
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Payload is the JSON body of a delivery.
type Payload struct {
	// ID identifies the delivery; retries keep it, so a receiver can
	// drop a delivery it has seen.
	ID    string          `json:"id"`
	Event string          `json:"event"`
	At    time.Time       `json:"at"`
	Data  json.RawMessage `json:"data"`
}

// PathData is the data of the path events.
type PathData struct {
	PathID    string  `json:"path_id"`
	Entry     string  `json:"entry,omitempty"`
	Jewel     string  `json:"jewel,omitempty"`
	Risk      float64 `json:"risk"`
	Validated bool    `json:"validated"`
	Summary   string  `json:"summary"`
	// Analysis is the id of the analysis that opened or closed the path.
	Analysis int64 `json:"analysis,omitempty"`
}

// BreachData is the data of sla.breach.
type BreachData struct {
	ExposureID string    `json:"exposure_id"`
	Due        time.Time `json:"due"`
	Rule       string    `json:"rule"`
	Owner      string    `json:"owner,omitempty"`
}

// Sign returns the X-Ctem-Signature value of body sent at timestamp ts:
// "t=TS,v1=HEX" with HEX the HMAC-SHA256 of "TS.BODY" under secret.
func Sign(secret []byte, ts int64, body []byte) string {
	return "t=" + strconv.FormatInt(ts, 10) + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts int64, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte("."))
	m.Write(body)
	return m.Sum(nil)
}

// ErrBadSignature is returned by Verify for a delivery that secret did
// not sign, or signed too long ago or ahead.
var ErrBadSignature = errors.New("webhook signature does not verify")

// Verify checks a delivery as a receiver does: header is the
// X-Ctem-Signature value, body the raw body. The timestamp must be within
// tolerance of now, and one of the v1 signatures must match (compared in
// constant time). It returns nil or an error wrapping ErrBadSignature.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts int64 = -1
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("timestamp %q: %w", v, ErrBadSignature)
			}
			ts = n
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	if ts < 0 || len(sigs) == 0 {
		return fmt.Errorf("no t= and v1= in %q: %w", header, ErrBadSignature)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("timestamp %d is %s from now: %w", ts, d.Round(time.Second), ErrBadSignature)
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return ErrBadSignature
}
