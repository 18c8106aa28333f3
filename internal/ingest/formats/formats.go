// Package formats lists every input format ctem reads, for detection and
// for --format.
package formats

import (
	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/sarif"
	"github.com/ctem-dev/ctem/internal/ingest/trivy"
)

// All returns the registry of every format, in the order listings show.
func All() ingest.Registry {
	return ingest.Registry{
		trivy.Format,
		sarif.Format,
	}
}
