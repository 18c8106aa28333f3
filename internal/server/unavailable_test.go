package server

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestDatabaseUnavailable: a request whose database is unreachable gets
// a 503 with Retry-After, not a 500, and its cause stays in the log.
func TestDatabaseUnavailable(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("list exposures: %w", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")})
	status, detail, _, internal := classify(err)
	if status != http.StatusServiceUnavailable || !internal {
		t.Fatalf("classify(refused dial) = %d (internal %v), want 503 (internal true)", status, internal)
	}
	rec := httptest.NewRecorder()
	writeProblem(rec, httptest.NewRequest("GET", "/api/v1/exposures", nil), status, detail, "")
	if got := rec.Header().Get("Retry-After"); got == "" {
		t.Errorf("503 problem: no Retry-After header")
	}
	if status, _, _, _ := classify(errors.New("something else")); status != http.StatusInternalServerError {
		t.Errorf("classify(other error) = %d, want 500", status)
	}
}
