package app

import (
	"context"

	"github.com/ctem-dev/ctem/internal/estate/scope"
)

// ScopeInForce returns the scope every analysis reads now: the App's
// Scope when set, else the latest stored one, else the default. Its SLA,
// acceptance bounds and policies are what mobilisation applies.
func (a *App) ScopeInForce(ctx context.Context) (*scope.Scope, error) {
	in, err := a.loadInputs(ctx)
	if err != nil {
		return nil, err
	}
	return in.scope, nil
}
