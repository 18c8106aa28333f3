package postgres

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestUnavailable(t *testing.T) {
	t.Parallel()
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"refused dial", fmt.Errorf("list exposures: %w", refused), true},
		{"bad connection", fmt.Errorf("read: %w", driver.ErrBadConn), true},
		{"admin shutdown", fmt.Errorf("read: %w", &pgconn.PgError{Code: "57P01"}), true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"query cancelled", &pgconn.PgError{Code: "57014"}, false},
		{"plain error", errors.New("no such exposure"), false},
	} {
		if got := Unavailable(c.err); got != c.want {
			t.Errorf("Unavailable(%s) = %v, want %v", c.name, got, c.want)
		}
	}
}
