// Package ticket turns the fix plan's remediation actions into tickets in
// the trackers people work from, one ticket per action with a stable key,
// and keeps them in step: it creates, updates, closes what is fixed,
// reopens what regressed and reads back what people decided (a ticket
// closed as won't fix becomes a risk-acceptance request). One subpackage
// per tracker implements Tracker.
package ticket

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/ctem-dev/ctem/internal/graph"
)

// Label marks every ticket ctem manages.
const Label = "ctem"

// ErrNoList is returned by Tracker.List of a tracker that cannot be read
// back (a webhook): the sync then trusts its own records.
var ErrNoList = errors.New("tracker cannot list its tickets")

// Ticket is the content of the ticket of one remediation action.
type Ticket struct {
	// Key is the action's stable key (see Key); it is written into the
	// ticket (a label and a marker in the body) so the sync finds it.
	Key      string   `json:"key"`
	Action   string   `json:"action"`
	Title    string   `json:"title"`
	Body     string   `json:"body"`
	Labels   []string `json:"labels"`
	Project  string   `json:"project,omitempty"`
	Assignee string   `json:"assignee,omitempty"`
	Owner    string   `json:"owner,omitempty"`
}

// Digest is the digest of what the tracker shows of t, to tell whether
// an update is needed.
func (t Ticket) Digest() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s", t.Title, t.Body, strings.Join(t.Labels, ","), t.Project, t.Assignee)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Remote is a ticket as the tracker holds it.
type Remote struct {
	Key string `json:"key"`
	// ID is the tracker's id (an issue number, a Jira key); URL its page.
	ID  string `json:"id"`
	URL string `json:"url,omitempty"`
	// Open is false once closed; WontFix is true when it was closed
	// without a fix (won't fix, won't do, not planned).
	Open    bool   `json:"open"`
	WontFix bool   `json:"wont_fix,omitempty"`
	Digest  string `json:"digest,omitempty"`
	// Resolver names who closed it, when the tracker says.
	Resolver string `json:"resolver,omitempty"`
}

// Tracker is one issue tracker.
type Tracker interface {
	// Name names the tracker in ctem's records ("jira", "github", ...).
	Name() string
	// List returns every ticket ctem manages there, found by its Label
	// and key marker; ErrNoList when the tracker cannot be read.
	List(ctx context.Context) ([]Remote, error)
	// Create creates a ticket and returns it.
	Create(ctx context.Context, t Ticket) (Remote, error)
	// Update rewrites the ticket's content.
	Update(ctx context.Context, r Remote, t Ticket) error
	// SetOpen closes or reopens the ticket, with a comment saying why.
	SetOpen(ctx context.Context, r Remote, t Ticket, open bool, why string) error
}

// Key returns the stable ticket key of a remediation action: a digest of
// the action's own key, so the same action on another run or machine
// meets the same ticket.
func Key(actionKey string) string {
	h := sha256.Sum256([]byte(actionKey))
	return "ctem-" + hex.EncodeToString(h[:6])
}

// marker is the line that carries the key in a ticket's body.
func marker(key string) string { return "ctem-key: " + key }

// KeyOf returns the key a ticket body carries, and false when none.
func KeyOf(body string) (string, bool) {
	for line := range strings.SplitSeq(body, "\n") {
		line = strings.Trim(strings.TrimSpace(line), "`*_")
		if k, ok := strings.CutPrefix(line, "ctem-key: "); ok && strings.HasPrefix(k, "ctem-") && len(k) == 17 {
			return k, true
		}
	}
	return "", false
}

// Route says where the tickets of a team's actions go.
type Route struct {
	Team     string
	Project  string
	Labels   []string
	Assignee string
}

// route sets the project, labels and assignee of the ticket from the
// route of its owner, else the default route (the first without a team).
func (t *Ticket) route(routes []Route) {
	for _, r := range routes {
		if r.Team == t.Owner || (r.Team == "" && t.Project == "") {
			t.Project, t.Assignee = r.Project, r.Assignee
			t.Labels = append([]string{Label}, r.Labels...)
			if r.Team == t.Owner {
				break
			}
		}
	}
}

// FromPlanItem writes the ticket of a fix-plan item: what to do, the risk
// it removes, the exposures it closes, its owner, and the key. due, when
// not empty, is the SLA due date of its most urgent exposure. routes pick
// the project, labels and assignee by the action's owner; the last route
// with an empty team is the default.
func FromPlanItem(it graph.PlanItem, names map[string]string, due string, routes []Route) Ticket {
	key := Key(it.Key)
	t := Ticket{Key: key, Action: it.Key, Title: "[ctem] " + it.Title, Labels: []string{Label}, Owner: it.Owner}
	t.route(routes)
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", it.Title)
	fmt.Fprintf(&b, "- Risk removed: %.2f (attack-path risk, jewel value x likelihood)\n", it.RiskRemoved)
	fmt.Fprintf(&b, "- Effort: %.1f\n", it.Effort)
	if it.Owner != "" {
		fmt.Fprintf(&b, "- Owner: %s\n", it.Owner)
	}
	if due != "" {
		fmt.Fprintf(&b, "- SLA due: %s\n", due)
	}
	if len(it.Exposures) > 0 {
		fmt.Fprintf(&b, "\nCloses %d exposures:\n", len(it.Exposures))
		for i, id := range it.Exposures {
			if i == 50 {
				fmt.Fprintf(&b, "- and %d more\n", len(it.Exposures)-50)
				break
			}
			if n, ok := names[id]; ok {
				fmt.Fprintf(&b, "- %s (%s)\n", n, id)
			} else {
				fmt.Fprintf(&b, "- %s\n", id)
			}
		}
	}
	if len(it.Relations) > 0 {
		fmt.Fprintf(&b, "\nRemoves:\n")
		for _, r := range it.Relations {
			fmt.Fprintf(&b, "- %s\n", r)
		}
	}
	fmt.Fprintf(&b, "\nClosing this ticket as won't fix asks for a risk acceptance; ctem closes it when a scan shows the fix.\n\n%s\n", marker(key))
	t.Body = b.String()
	return t
}
