// Package formats lists every input format ctem reads, for detection and
// for --format.
package formats

import (
	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/asff"
	"github.com/ctem-dev/ctem/internal/ingest/bandit"
	"github.com/ctem-dev/ctem/internal/ingest/checkov"
	"github.com/ctem-dev/ctem/internal/ingest/cyclonedx"
	"github.com/ctem-dev/ctem/internal/ingest/depcheck"
	"github.com/ctem-dev/ctem/internal/ingest/gitleaks"
	"github.com/ctem-dev/ctem/internal/ingest/gosecjson"
	"github.com/ctem-dev/ctem/internal/ingest/govulncheck"
	"github.com/ctem-dev/ctem/internal/ingest/grype"
	"github.com/ctem-dev/ctem/internal/ingest/kics"
	"github.com/ctem-dev/ctem/internal/ingest/nmap"
	"github.com/ctem-dev/ctem/internal/ingest/npmaudit"
	"github.com/ctem-dev/ctem/internal/ingest/nuclei"
	"github.com/ctem-dev/ctem/internal/ingest/openvex"
	"github.com/ctem-dev/ctem/internal/ingest/osvscanner"
	"github.com/ctem-dev/ctem/internal/ingest/prowler"
	"github.com/ctem-dev/ctem/internal/ingest/sarif"
	"github.com/ctem-dev/ctem/internal/ingest/semgrep"
	"github.com/ctem-dev/ctem/internal/ingest/snyk"
	"github.com/ctem-dev/ctem/internal/ingest/spdx"
	"github.com/ctem-dev/ctem/internal/ingest/tfsec"
	"github.com/ctem-dev/ctem/internal/ingest/trivy"
	"github.com/ctem-dev/ctem/internal/ingest/trufflehog"
	"github.com/ctem-dev/ctem/internal/ingest/zap"
)

// All returns the registry of every format, in the order listings show.
func All() ingest.Registry {
	return ingest.Registry{
		// SCA, containers, SBOMs
		trivy.Format,
		grype.Format,
		snyk.Format,
		osvscanner.Format,
		npmaudit.Format,
		depcheck.FormatXML,
		depcheck.FormatJSON,
		govulncheck.Format,
		cyclonedx.FormatJSON,
		cyclonedx.FormatXML,
		spdx.Format,
		openvex.Format,
		// code
		sarif.Format,
		semgrep.Format,
		bandit.Format,
		gosecjson.Format,
		// secrets
		gitleaks.Format,
		trufflehog.FormatV3,
		trufflehog.FormatV2,
		// IaC and cloud
		checkov.Format,
		kics.Format,
		tfsec.Format,
		prowler.FormatOCSF,
		prowler.FormatJSON,
		asff.Format,
		// DAST and network
		zap.FormatXML,
		zap.FormatJSON,
		nuclei.Format,
		nmap.Format,
	}
}
