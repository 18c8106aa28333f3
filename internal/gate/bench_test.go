package gate_test

import (
	"testing"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/gate"
)

// BenchmarkGate runs the whole gate on the example estate with the
// hostPath change: two copies of the base, two analyses, an ingest, the
// comparison and the policies.
func BenchmarkGate(b *testing.B) {
	base := baseDB(b)
	dir := b.TempDir()
	in := change(b, dir, "k8s/shop.yaml", hostPath)
	for b.Loop() {
		r, err := gate.Run(b.Context(), gate.Config{Base: base, Inputs: []app.Input{in}, Open: open, NewApp: newApp, TempDir: dir})
		if err != nil || !r.Failed() {
			b.Fatalf("Run() = %v, %v", r, err)
		}
	}
}
