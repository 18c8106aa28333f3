// Command ctem is the continuous threat exposure management tool. All of
// its behaviour lives in internal/cli; main only wires the process to it.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/ctem-dev/ctem/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
