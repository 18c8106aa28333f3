// Package examples holds the demo estate that `ctem demo` analyses: real
// scanner reports of other projects (see reports/SOURCES.tsv), bundled into
// the binary so the demo runs anywhere.
package examples

import "embed"

// Reports holds the demo's scanner reports under reports/.
//
//go:embed reports/*.json reports/*.sarif
var Reports embed.FS

// Targets names the target of each report that does not name its own.
var Targets = map[string]string{
	"shop-api.gosec.sarif": "https://github.com/example-shop/shop-api",
}
