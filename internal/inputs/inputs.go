// Package inputs is the registry of everything `ctem ingest` reads:
// scanner reports (ingest/formats) and descriptions of the estate
// (estate/k8s, ...). It sits after both stages so that neither imports the
// other.
package inputs

import (
	"github.com/ctem-dev/ctem/internal/estate/awsiam"
	"github.com/ctem-dev/ctem/internal/estate/inventory"
	"github.com/ctem-dev/ctem/internal/estate/k8s"
	"github.com/ctem-dev/ctem/internal/estate/terraform"
	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/formats"
)

// All returns every input format: the scanner formats, then the estate's.
func All() ingest.Registry {
	return append(formats.All(),
		k8s.Format,
		terraform.FormatPlan,
		terraform.FormatHCL,
		inventory.Format,
		awsiam.Format,
	)
}
