package apitypes

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGenerated checks that types.gen.go is what oapi-codegen makes of
// api/openapi.yaml now: the contract and the code cannot drift.
func TestGenerated(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatalf("no go command on PATH: %v", err)
	}
	out := filepath.Join(t.TempDir(), "types.gen.go")
	cmd := exec.Command("go", "tool", "oapi-codegen", "-generate", "types", "-package", "apitypes", "-o", out, "../../../api/openapi.yaml")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go tool oapi-codegen: %v\n%s", err, b)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("types.gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("types.gen.go is not what api/openapi.yaml generates: run go generate ./internal/server/apitypes")
	}
}
