package server

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/ctem-dev/ctem/internal/estate"
	"github.com/ctem-dev/ctem/internal/graph"
)

// estateCache keeps the correlated estate and each team's assets until
// the data or the analysis inputs change: building the estate reads
// every asset and relation, too much for every request.
type estateCache struct {
	mu     sync.Mutex
	key    string
	es     *estate.Estate
	owners map[string]map[string]bool
}

// inputsKey names the state of the data the estate is built from: the
// ingest sequence, the scope version and the CODEOWNERS versions.
func (s *Server) inputsKey(ctx context.Context) (string, error) {
	seq, err := s.st.IngestSeq(ctx)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d", seq)
	if v, ok, err := s.st.LatestScope(ctx); err != nil {
		return "", err
	} else if ok {
		fmt.Fprintf(&b, "/s%d", v.Version)
	}
	cos, err := s.st.CodeOwners(ctx)
	if err != nil {
		return "", err
	}
	for _, c := range cos {
		fmt.Fprintf(&b, "/%s=%d", c.Repo, c.Version)
	}
	return b.String(), nil
}

// estateNow returns the estate under the stored scope and each team's
// asset keys (aliases included), rebuilt when the inputs changed.
func (s *Server) estateNow(ctx context.Context) (*estate.Estate, map[string]map[string]bool, error) {
	key, err := s.inputsKey(ctx)
	if err != nil {
		return nil, nil, err
	}
	c := &s.estate
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.es != nil && c.key == key {
		return c.es, c.owners, nil
	}
	es, err := s.app.Estate(ctx)
	if err != nil {
		return nil, nil, err
	}
	owners := map[string]map[string]bool{}
	for k, a := range es.Assets {
		if a.Owner == "" {
			continue
		}
		m := owners[a.Owner]
		if m == nil {
			m = map[string]bool{}
			owners[a.Owner] = m
		}
		m[k] = true
		m[a.Key] = true
		for _, al := range a.Aliases {
			m[al] = true
		}
	}
	c.key, c.es, c.owners = key, es, owners
	return es, owners, nil
}

// scopeOf is what a principal may see: nil for everything, else the asset
// keys its team owns.
type scopeOf map[string]bool

// visibleTo returns the asset keys p may see, or nil when p is not
// limited to a team. A team that owns nothing sees nothing.
func (s *Server) visibleTo(ctx context.Context, p *Principal) (scopeOf, error) {
	if p == nil || p.Team == "" {
		return nil, nil
	}
	_, owners, err := s.estateNow(ctx)
	if err != nil {
		return nil, err
	}
	m := owners[p.Team]
	if m == nil {
		m = map[string]bool{}
	}
	return scopeOf(m), nil
}

// asset reports whether the asset with this key is visible.
func (v scopeOf) asset(key string) bool { return v == nil || v[key] }

// path reports whether a path is visible: its crown jewel or an asset it
// passes through is the team's. (A team sees the paths that reach or
// cross its services; the exposures of other teams' steps it sees by id
// only, and cannot read.)
func (v scopeOf) path(p graph.Path) bool {
	if v == nil || v[p.Jewel] {
		return true
	}
	for _, st := range p.Steps {
		if v[st.Asset] {
			return true
		}
	}
	return false
}
