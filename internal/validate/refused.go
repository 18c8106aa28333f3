package validate

import (
	"errors"
	"syscall"
)

// errRefused is the error of a connection refused (a closed port).
func errRefused() error { return syscall.ECONNREFUSED }

// isUnreachable reports whether a connect failed for want of a route:
// the network or the host is unreachable (an ICMP unreachable, or no
// neighbour answered).
func isUnreachable(err error) bool {
	return errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTUNREACH)
}
