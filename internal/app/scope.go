package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/ctem-dev/ctem/internal/estate"
	"github.com/ctem-dev/ctem/internal/estate/scope"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// ScopeFile is a scope file's name and contents.
type ScopeFile struct {
	Name string
	Data []byte
}

// CodeOwnersFile is a repository's CODEOWNERS file: its repository
// (URL or key), the file's name and its contents.
type CodeOwnersFile struct {
	Repo string
	Name string
	Data []byte
}

// analysisInputs are the analysis inputs an App read: the scope with its
// ownership rules, and where each came from.
type analysisInputs struct {
	scope      *scope.Scope
	ref        store.ScopeRef
	codeOwners []string
}

// parseScope parses and validates a scope file.
func parseScope(f ScopeFile) (*scope.Scope, error) {
	sc, err := scope.Parse(f.Name, bytes.NewReader(f.Data))
	if err != nil {
		return nil, badInput(err)
	}
	return sc, nil
}

// loadInputs returns the scope to analyse under: the App's Scope when
// set, else the latest stored scope, else the default; then the ownership
// rules of the stored CODEOWNERS files and the App's, in that order,
// after the scope's own rules so that the scope file wins.
func (a *App) loadInputs(ctx context.Context) (*analysisInputs, error) {
	in := &analysisInputs{}
	switch {
	case a.Scope != nil:
		sc, err := parseScope(*a.Scope)
		if err != nil {
			return nil, err
		}
		in.scope = sc
		in.ref = store.ScopeRef{Source: "file", Name: a.Scope.Name, Digest: digest(a.Scope.Data)}
	default:
		v, ok, err := a.Store.LatestScope(ctx)
		if err != nil {
			return nil, err
		}
		if ok {
			sc, err := parseScope(ScopeFile{Name: v.Name, Data: v.Data})
			if err != nil {
				return nil, fmt.Errorf("stored scope version %d: %w", v.Version, err)
			}
			in.scope = sc
			in.ref = store.ScopeRef{Source: "stored", Version: v.Version, Name: v.Name, Digest: v.Digest}
		} else {
			in.scope = scope.Default()
			in.ref = store.ScopeRef{Source: "default"}
		}
	}
	stored, err := a.Store.CodeOwners(ctx)
	if err != nil {
		return nil, err
	}
	files := make([]CodeOwnersFile, 0, len(stored)+len(a.CodeOwners))
	for _, v := range stored {
		files = append(files, CodeOwnersFile{Repo: v.Repo, Name: v.Name, Data: v.Data})
	}
	files = append(files, a.CodeOwners...)
	for _, f := range files {
		rule, ok, err := codeOwnersRule(f)
		if err != nil {
			return nil, err
		}
		if ok {
			in.scope.Ownership = append(in.scope.Ownership, rule)
		}
		in.codeOwners = append(in.codeOwners, f.Repo+"="+digest(f.Data))
	}
	return in, nil
}

func codeOwnersRule(f CodeOwnersFile) (scope.OwnershipRule, bool, error) {
	co, err := scope.ParseCODEOWNERS(bytes.NewReader(f.Data))
	if err != nil {
		return scope.OwnershipRule{}, false, badInput(fmt.Errorf("%s: %w", f.Name, err))
	}
	rule, ok := co.Rule(f.Repo)
	return rule, ok, nil
}

// SetScope validates a scope file and stores it as the scope every
// analysis reads from now on (a new version, unless it is the latest
// already). It returns the version in force and whether it is new. A
// scope that does not parse or validate is a BadInputError and changes
// nothing.
func (a *App) SetScope(ctx context.Context, f ScopeFile) (store.ScopeVersion, bool, error) {
	sc, err := parseScope(f)
	if err != nil {
		return store.ScopeVersion{}, false, err
	}
	if errs := sc.Validate(); len(errs) > 0 {
		return store.ScopeVersion{}, false, badInput(fmt.Errorf("%s: %d problems, the first: %w", f.Name, len(errs), errs[0]))
	}
	return a.Store.SetScope(ctx, f.Name, f.Data, a.now())
}

// SetCodeOwners checks a CODEOWNERS file and stores it as repo's, read
// by every analysis from now on.
func (a *App) SetCodeOwners(ctx context.Context, f CodeOwnersFile) (store.CodeOwnersVersion, bool, error) {
	if f.Repo == "" {
		return store.CodeOwnersVersion{}, false, badInput(fmt.Errorf("CODEOWNERS %s: no repository named", f.Name))
	}
	if _, _, err := codeOwnersRule(f); err != nil {
		return store.CodeOwnersVersion{}, false, err
	}
	return a.Store.SetCodeOwners(ctx, f.Repo, f.Name, f.Data, a.now())
}

// Estate reads every asset and relation and correlates them under the
// scope in force.
func (a *App) Estate(ctx context.Context) (*estate.Estate, error) {
	in, err := a.loadInputs(ctx)
	if err != nil {
		return nil, err
	}
	return a.estate(ctx, in)
}

func (a *App) estate(ctx context.Context, in *analysisInputs) (*estate.Estate, error) {
	if er, ok := a.Store.(estateReader); ok {
		assets, rels, err := er.Estate(ctx)
		if err != nil {
			return nil, err
		}
		return estate.Build(assets, rels, in.scope), nil
	}
	var assets []model.Asset
	for x, err := range a.Store.Assets(ctx, store.Filter{}) {
		if err != nil {
			return nil, err
		}
		assets = append(assets, x)
	}
	var rels []model.Relation
	for r, err := range a.Store.Relations(ctx, store.Filter{}) {
		if err != nil {
			return nil, err
		}
		rels = append(rels, r)
	}
	return estate.Build(assets, rels, in.scope), nil
}

// estateReader is a store that reads every asset and relation in one go,
// as its listings give them (sqlstore.DB.Estate).
type estateReader interface {
	Estate(ctx context.Context) ([]model.Asset, []model.Relation, error)
}

// digest is the hex SHA-256 of data, as the store records it.
func digest(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}
