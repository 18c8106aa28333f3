package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ctem-dev/ctem/internal/netguard"
	"github.com/ctem-dev/ctem/internal/retry"
)

// Poster sends a JSON payload to an incoming webhook through a client
// that netguard's policy confines, retrying a 429 or 5xx answer (waiting
// as Retry-After says, at most MaxWait) up to Attempts times.
type Poster struct {
	// URL is the webhook's URL: a secret (its path carries the token),
	// checked against Policy and never put in an error.
	URL    string
	Policy netguard.Policy
	// Client, when set, is used instead of Policy's client (its dialer
	// must apply the policy); tests set it to reach a loopback server
	// with AllowPrivate.
	Client *http.Client
	// Attempts is the most tries; 0 is 3. MaxWait bounds one wait; 0 is
	// 30 seconds.
	Attempts int
	MaxWait  time.Duration
	// Sleep waits; nil waits on a timer that honours the context.
	Sleep func(ctx context.Context, d time.Duration) error
}

// HTTPError is a webhook's refusal: the status and the start of its
// answer, the host it came from, never the URL.
type HTTPError struct {
	Channel, Host string
	Status        int
	Body          string
}

// Error names the channel, host and answer.
func (e *HTTPError) Error() string {
	return fmt.Sprintf("%s webhook at %s: %d %s", e.Channel, e.Host, e.Status, e.Body)
}

// Post sends payload as JSON; channel names the webhook in errors.
func (p *Poster) Post(ctx context.Context, channel string, payload any) error {
	u, err := p.Policy.CheckURL(p.URL)
	if err != nil {
		return fmt.Errorf("%s webhook: %w", channel, err)
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("%s payload: %w", channel, err)
	}
	c := p.Client
	if c == nil {
		c = p.Policy.Client(30 * time.Second)
	}
	pol := retry.Policy{Attempts: p.Attempts, MaxWait: p.MaxWait, Sleep: p.Sleep}
	return pol.Do(ctx, 3, 30*time.Second, func(bool) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("%s webhook at %s: %w", channel, u.Hostname(), redact(err))
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			err = fmt.Errorf("%s webhook at %s: %w", channel, u.Hostname(), redact(err))
			if errors.Is(err, netguard.ErrBlocked) {
				return err
			}
			return &retry.Again{Err: err}
		}
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return nil
		}
		herr := &HTTPError{Channel: channel, Host: u.Hostname(), Status: resp.StatusCode, Body: clip(oneLine(string(data)), 200)}
		if !retry.Retryable(resp.StatusCode) {
			return herr
		}
		return &retry.Again{Err: herr, After: retry.After(resp.Header.Get("Retry-After"))}
	})
}

// redact drops the URL from net/http's *url.Error, keeping its cause.
func redact(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}

// Slack sends digests to a Slack incoming webhook as Block Kit messages:
// a header, one section per kind of event (mrkdwn, every event's text
// escaped so scanned data cannot mention @channel or forge a link), and
// a context line counting what was left out.
type Slack struct {
	Poster
}

// Name returns "slack".
func (s *Slack) Name() string { return "slack" }

// slackEscape escapes the three characters Slack's mrkdwn gives meaning
// to as control sequences (<!channel>, <url|text>), as Slack's
// formatting reference asks.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// SlackPayload returns the Block Kit payload of m. Slack bounds a header
// at 150 characters and a section's text at 3000; both are clipped.
func SlackPayload(m Message) map[string]any {
	type obj = map[string]any
	blocks := []any{obj{"type": "header", "text": obj{"type": "plain_text", "text": clip(m.Title, 150)}}}
	for _, k := range kindOrder {
		var b strings.Builder
		fmt.Fprintf(&b, "*%s* (%d)\n", kindTitle[k], m.Counts[k])
		n := 0
		for _, e := range m.Events {
			if e.Kind != k {
				continue
			}
			n++
			line := "• " + slackEscape(clip(oneLine(e.Title), 300))
			if e.Detail != "" {
				line += " — " + slackEscape(clip(oneLine(e.Detail), 300))
			}
			if e.Owner != "" {
				line += " (owner: " + slackEscape(oneLine(e.Owner)) + ")"
			}
			if b.Len()+len(line) > 2900 {
				break
			}
			b.WriteString(line + "\n")
		}
		if n > 0 {
			blocks = append(blocks, obj{"type": "section", "text": obj{"type": "mrkdwn", "text": b.String()}})
		}
	}
	if m.More > 0 {
		blocks = append(blocks, obj{"type": "context", "elements": []any{obj{"type": "mrkdwn",
			"text": fmt.Sprintf("and %d more: see `ctem paths`, `ctem sla --breached` and `ctem policy test`", m.More)}}})
	}
	return obj{"text": m.Title, "blocks": blocks}
}

// Send posts m.
func (s *Slack) Send(ctx context.Context, m Message) error {
	return s.Post(ctx, "slack", SlackPayload(m))
}

// Teams sends digests to a Microsoft Teams incoming webhook (a Workflows
// webhook or a legacy connector) as a message with one Adaptive Card
// (version 1.4): a title, one block per kind of event, and a line
// counting what was left out. Event text is escaped so scanned data
// cannot form markdown links or emphasis.
type Teams struct {
	Poster
}

// Name returns "teams".
func (t *Teams) Name() string { return "teams" }

// teamsEscape escapes what the Adaptive Card TextBlock markdown subset
// reads as formatting or links (a TextBlock renders no HTML, so angle
// brackets stay as they are).
func teamsEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "(", `\(`, ")", `\)`).Replace(s)
}

// TeamsPayload returns the message of m with its Adaptive Card.
func TeamsPayload(m Message) map[string]any {
	type obj = map[string]any
	body := []any{obj{"type": "TextBlock", "text": teamsEscape(m.Title), "size": "Medium", "weight": "Bolder", "wrap": true}}
	for _, k := range kindOrder {
		var items []any
		for _, e := range m.Events {
			if e.Kind != k {
				continue
			}
			line := "- " + teamsEscape(clip(oneLine(e.Title), 300))
			if e.Owner != "" {
				line += " (owner: " + teamsEscape(oneLine(e.Owner)) + ")"
			}
			items = append(items, obj{"type": "TextBlock", "text": line, "wrap": true, "spacing": "None"})
			if e.Detail != "" {
				items = append(items, obj{"type": "TextBlock", "text": teamsEscape(clip(oneLine(e.Detail), 300)), "wrap": true, "isSubtle": true, "spacing": "None"})
			}
		}
		if len(items) == 0 {
			continue
		}
		body = append(body, obj{"type": "TextBlock", "text": fmt.Sprintf("**%s** (%d)", kindTitle[k], m.Counts[k]), "wrap": true, "separator": true})
		body = append(body, items...)
	}
	if m.More > 0 {
		body = append(body, obj{"type": "TextBlock", "text": fmt.Sprintf("and %d more: see ctem paths, ctem sla --breached and ctem policy test", m.More), "isSubtle": true, "wrap": true})
	}
	card := obj{"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4", "body": body}
	return obj{"type": "message", "attachments": []any{obj{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": nil, "content": card}}}
}

// Send posts m.
func (t *Teams) Send(ctx context.Context, m Message) error {
	return t.Post(ctx, "teams", TeamsPayload(m))
}
