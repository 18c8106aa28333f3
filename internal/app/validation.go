package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// DefaultEvidenceMaxAge is how old a fact may be before a reading of
// validation evidence calls it stale, when the caller gives no age: the
// age after which ctem validate expires its probe results (30 days).
const DefaultEvidenceMaxAge = 30 * 24 * time.Hour

// Bounds of a path's evidence reading: the exposures read per step (a
// step that a thousand exposures enable would otherwise read them all)
// and the facts kept per step.
const (
	maxStepExposures = 20
	maxStepFacts     = 50
)

// Fact is one stored fact of evidence as a reading of validation shows
// it: with its age, whether it is stale, and whether its kind validates
// a step.
type Fact struct {
	model.Evidence
	// Exposure is the exposure the fact is about, in a path's reading;
	// empty in a listing.
	Exposure string `json:"exposure,omitempty"`
	// AgeSeconds is the fact's age when read; Stale is true when it is
	// older than the reading's maximum age.
	AgeSeconds float64 `json:"age_seconds"`
	Stale      bool    `json:"stale"`
	// Validating is true for the kinds that validate a step (kev,
	// reachable-call, runtime-loaded, runtime-exec, dast-confirmed,
	// probe-confirmed).
	Validating bool `json:"validating"`
}

// Validating reports whether evidence of kind k validates the step of
// the weakness it is about: the rule of graph.Path.Validated and of the
// validated-path KPI (store.ValidatingKinds).
func Validating(k model.EvidenceKind) bool {
	return k != "relation" && k != "label" && len(store.ValidatingKinds([][]string{{string(k)}})) > 0
}

func fact(e model.Evidence, now time.Time, maxAge time.Duration) Fact {
	f := Fact{Evidence: e, Validating: Validating(e.Kind)}
	if !e.At.IsZero() {
		age := now.Sub(e.At)
		f.AgeSeconds = max(age, 0).Seconds()
		f.Stale = age > maxAge
	}
	return f
}

// StepEvidence is one step of a path with what backs it.
type StepEvidence struct {
	// N numbers the steps from 1.
	N int `json:"n"`
	graph.Step
	// Kinds are the kinds of evidence that validate the step's most
	// likely way (those of Validating, and "relation" or "label" for a
	// step that a fact of the estate enables).
	Kinds []string `json:"kinds"`
	// Facts are the stored facts about the step's exposures, newest
	// first, one per exposure, kind and source.
	Facts []Fact `json:"facts"`
}

// PathEvidence is an open path's validation: whether it is validated,
// by which kinds of evidence, and each step with what backs it.
type PathEvidence struct {
	ID          string         `json:"id"`
	Entry       string         `json:"entry"`
	Target      string         `json:"target"`
	Risk        float64        `json:"risk"`
	Likelihood  float64        `json:"likelihood"`
	Validated   bool           `json:"validated"`
	ValidatedBy []string       `json:"validated_by"`
	Steps       []StepEvidence `json:"steps"`
	// MaxAgeSeconds is the age beyond which a fact reads as stale.
	MaxAgeSeconds float64 `json:"max_age_seconds"`
	View          View    `json:"view"`
}

// PathEvidenceQuery names a path and says how to read its evidence.
type PathEvidenceQuery struct {
	ID string
	// MaxAge is the age beyond which a fact is stale; 0 is
	// DefaultEvidenceMaxAge.
	MaxAge time.Duration
	// See, when not nil, keeps the path only if it returns true for it,
	// and the facts of the exposures on the assets for which Asset
	// returns true: a team's view.
	See      func(graph.Path) bool
	SeeAsset func(asset string) bool
}

// PathEvidence returns the validation of the open path q.ID: per step
// whether it is validated, by which kinds of evidence, and the stored
// facts about its exposures with their age. A path that is not open, or
// that q.See hides, is ErrNotFound.
func (a *App) PathEvidence(ctx context.Context, q PathEvidenceQuery) (*PathEvidence, error) {
	if q.MaxAge <= 0 {
		q.MaxAge = DefaultEvidenceMaxAge
	}
	pl, err := a.Paths(ctx, PathQuery{})
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(pl.Paths, func(p graph.Path) bool { return p.ID == q.ID })
	if i < 0 || (q.See != nil && !q.See(pl.Paths[i])) {
		return nil, fmt.Errorf("no open attack path %q: %w", q.ID, ErrNotFound)
	}
	p := pl.Paths[i]
	now := a.now()
	out := &PathEvidence{ID: p.ID, Entry: p.Entry, Target: p.Target, Risk: p.Risk, Likelihood: p.Likelihood, Validated: p.Validated,
		ValidatedBy: []string{}, Steps: []StepEvidence{}, MaxAgeSeconds: q.MaxAge.Seconds(), View: pl.View}
	evs := make([][]string, len(p.Steps))
	for n, s := range p.Steps {
		evs[n] = s.Evidence
		se := StepEvidence{N: n + 1, Step: s, Kinds: store.ValidatingKinds([][]string{s.Evidence}), Facts: []Fact{}}
		if se.Kinds == nil {
			se.Kinds = []string{}
		}
		// An analysis recorded before steps carried their own flag
		// says so only for the whole path: every step of a validated
		// path is validated.
		se.Validated = s.Validated || p.Validated
		if se.Facts, err = a.stepFacts(ctx, s, now, q); err != nil {
			return nil, err
		}
		out.Steps = append(out.Steps, se)
	}
	if p.Validated {
		out.ValidatedBy = store.ValidatingKinds(evs)
		if out.ValidatedBy == nil {
			out.ValidatedBy = []string{}
		}
	}
	return out, nil
}

// stepFacts reads the stored facts about the exposures of step s that
// q lets its caller see: the newest of each exposure, kind and source,
// newest first, at most maxStepFacts.
func (a *App) stepFacts(ctx context.Context, s graph.Step, now time.Time, q PathEvidenceQuery) ([]Fact, error) {
	ids := slices.Clone(s.ExposureIDs)
	// The weakness that gives the step its probability first.
	if s.Weakness != "" {
		ids = append([]string{s.Weakness}, slices.DeleteFunc(ids, func(id string) bool { return id == s.Weakness })...)
	}
	type key struct{ x, kind, source string }
	newest := map[key]Fact{}
	for n, id := range ids {
		if n == maxStepExposures {
			break
		}
		x, err := a.Store.Exposure(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if q.SeeAsset != nil && !q.SeeAsset(x.Asset) {
			continue
		}
		for e, err := range a.Store.Evidence(ctx, x) {
			if err != nil {
				return nil, err
			}
			k := key{x.ID, string(e.Kind), e.Source}
			if old, ok := newest[k]; ok && !e.At.After(old.At) {
				continue
			}
			f := fact(e, now, q.MaxAge)
			f.Exposure = x.ID
			newest[k] = f
		}
	}
	out := make([]Fact, 0, len(newest))
	for _, f := range newest {
		out = append(out, f)
	}
	slices.SortFunc(out, func(x, y Fact) int {
		if c := y.At.Compare(x.At); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(x.Exposure, y.Exposure), cmp.Compare(x.Kind, y.Kind), cmp.Compare(x.Source, y.Source))
	})
	if len(out) > maxStepFacts {
		out = out[:maxStepFacts]
	}
	return out, nil
}

// EvidenceListQuery selects a page of the stored evidence.
type EvidenceListQuery struct {
	store.EvidenceQuery
	// MaxAge is the age beyond which a fact is stale; 0 is
	// DefaultEvidenceMaxAge.
	MaxAge time.Duration
	// Keep, when not nil, keeps only the facts for which it returns
	// true (a team's view); the store's limit is then lifted and the
	// page filled here.
	Keep func(model.Evidence) bool
}

// EvidencePage is a page of stored facts and the cursor of the next
// page, empty on the last.
type EvidencePage struct {
	Items         []Fact  `json:"items"`
	NextCursor    string  `json:"next_cursor,omitempty"`
	MaxAgeSeconds float64 `json:"max_age_seconds"`
}

// ErrNoEvidenceListing is returned when the store cannot list evidence
// page by page.
var ErrNoEvidenceListing = errors.New("this store cannot list evidence by page")

// Evidence lists the stored facts q selects, in key order, a page of
// q.Limit (100 when 0) at a time, each with its age and staleness.
func (a *App) Evidence(ctx context.Context, q EvidenceListQuery) (*EvidencePage, error) {
	ls, ok := a.Store.(store.EvidenceLister)
	if !ok {
		return nil, ErrNoEvidenceListing
	}
	if q.MaxAge <= 0 {
		q.MaxAge = DefaultEvidenceMaxAge
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	sq := q.EvidenceQuery
	sq.Limit = limit + 1
	if q.Keep != nil {
		sq.Limit = 0
	}
	now := a.now()
	out := &EvidencePage{Items: []Fact{}, MaxAgeSeconds: q.MaxAge.Seconds()}
	for e, err := range ls.EvidencePage(ctx, sq) {
		if err != nil {
			return nil, err
		}
		if q.Keep != nil && !q.Keep(e) {
			continue
		}
		if len(out.Items) == limit {
			out.NextCursor = store.EvidenceCursor(out.Items[limit-1].Evidence)
			break
		}
		out.Items = append(out.Items, fact(e, now, q.MaxAge))
	}
	return out, nil
}
