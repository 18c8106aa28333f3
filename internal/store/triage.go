package store

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"time"

	"github.com/ctem-dev/ctem/internal/model"
)

// ErrInvalid is wrapped by errors about a request the store refuses as
// it stands (a triage decision without its reason, an acceptance without
// its approver or expiry, a cursor it did not hand out).
var ErrInvalid = errors.New("invalid request")

// Actor names the store itself in status changes it records, for the
// changes an ingest or an expiry makes to what a person decided.
const Actor = "ctem"

// VEXJustifications are the justifications of a not_affected statement,
// as OpenVEX and CISA's minimum requirements for VEX name them.
var VEXJustifications = []string{
	"component_not_present",
	"vulnerable_code_not_present",
	"vulnerable_code_not_in_execute_path",
	"vulnerable_code_cannot_be_controlled_by_adversary",
	"inline_mitigations_already_exist",
}

// Decision is a person's triage of one exposure.
type Decision struct {
	// ExposureID is the exposure's exact id.
	ExposureID string `json:"exposure_id"`
	// Status is what the exposure becomes: open (which withdraws an
	// earlier decision), fixed, accepted, false_positive or not_affected.
	Status model.Status `json:"status"`
	// Reason says why, in the person's words. It is required.
	Reason string `json:"reason"`
	// By names who decided. It is required.
	By string `json:"by"`
	// Approver names who approved an acceptance; required for accepted.
	Approver string `json:"approver,omitempty"`
	// Expires ends an acceptance; required for accepted, after At.
	Expires time.Time `json:"expires,omitzero"`
	// Justification is the VEX justification of not_affected, one of
	// VEXJustifications; required for not_affected.
	Justification string `json:"justification,omitempty"`
	// At is when the decision was made; the zero time means now.
	At time.Time `json:"at,omitzero"`
}

// Check returns an error wrapping ErrInvalid when d lacks what its
// status requires.
func (d Decision) Check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("triage of %s: %s: %w", d.ExposureID, fmt.Sprintf(format, args...), ErrInvalid)
	}
	switch {
	case d.ExposureID == "":
		return bad("no exposure id")
	case !d.Status.Valid():
		return bad("unknown status %q", d.Status)
	case d.Reason == "":
		return bad("a reason is required")
	case d.By == "":
		return bad("who decides is required")
	}
	switch d.Status {
	case model.StatusAccepted:
		if d.Approver == "" {
			return bad("an acceptance needs an approver")
		}
		if d.Expires.IsZero() || (!d.At.IsZero() && !d.Expires.After(d.At)) {
			return bad("an acceptance needs an expiry in the future")
		}
	case model.StatusNotAffected:
		if !slices.Contains(VEXJustifications, d.Justification) {
			return bad("not_affected needs a VEX justification (one of %v), not %q", VEXJustifications, d.Justification)
		}
	}
	if d.Status != model.StatusAccepted && !d.Expires.IsZero() {
		return bad("only an acceptance expires")
	}
	return nil
}

// StatusChange is one change of an exposure's status made or kept by a
// person's decision, with who made it and why. Changes an ingest or an
// expiry makes to a decided exposure are recorded too, by Actor, with
// the scan that caused them.
type StatusChange struct {
	// Seq orders changes; it is unique and increases.
	Seq           int64        `json:"seq"`
	ExposureID    string       `json:"exposure_id"`
	From          model.Status `json:"from"`
	To            model.Status `json:"to"`
	By            string       `json:"by"`
	Reason        string       `json:"reason"`
	Approver      string       `json:"approver,omitempty"`
	Expires       time.Time    `json:"expires,omitzero"`
	Justification string       `json:"justification,omitempty"`
	ScanID        string       `json:"scan_id,omitempty"`
	At            time.Time    `json:"at"`
}

// Triage records people's decisions about exposures.
type Triage interface {
	// Triage applies d to its exposure and records the change. It returns
	// an error wrapping ErrInvalid when d.Check fails and one wrapping
	// ErrNotFound when there is no such exposure. A decision holds
	// across ingests: a scan that reports the exposure again does not
	// reopen it (it records that it saw it), except when the decision was
	// fixed, which a scan reporting it again disproves (and records so).
	Triage(ctx context.Context, d Decision) (StatusChange, error)
	// StatusHistory lists the status changes of the exposures in f.IDs
	// (exact ids; all when empty), oldest first, paged by f.After.
	StatusHistory(ctx context.Context, f Filter) iter.Seq2[StatusChange, error]
	// ExpireAcceptances reopens every exposure whose acceptance expired
	// at or before now, records why, and returns the changes.
	ExpireAcceptances(ctx context.Context, now time.Time) ([]StatusChange, error)
}
