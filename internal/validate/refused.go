package validate

import "syscall"

// errRefused is the error of a connection refused (a closed port).
func errRefused() error { return syscall.ECONNREFUSED }
