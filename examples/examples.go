// Package examples holds the demo estate that `ctem demo` analyses: an
// online shop's Kubernetes manifests (k8s/), its AWS account in Terraform
// (terraform/), what its CMDB adds (inventory.yaml), real scanner reports of other
// projects for its images and repository (reports/, see
// reports/SOURCES.tsv), and its scope file (ctem.yaml), bundled into the
// binary so the demo runs anywhere.
package examples

import "embed"

// Files holds the demo's inputs.
//
//go:embed ctem.yaml inventory.yaml k8s/*.yaml terraform/*.tf reports/*.json reports/*.sarif
var Files embed.FS

// Inputs lists the inputs in the order the demo ingests them: the estate
// first, then the scanner reports.
var Inputs = []string{
	"k8s/shop.yaml",
	"terraform/main.tf",
	"inventory.yaml",
	"reports/edge-proxy-image.trivy.json",
	"reports/shop-api-image.trivy.json",
	"reports/shop-api.gosec.sarif",
}

// Targets names the target of each input that does not name its own.
var Targets = map[string]string{
	"k8s/shop.yaml":                "prod",
	"terraform/main.tf":            "shop-aws",
	"reports/shop-api.gosec.sarif": "https://github.com/example-shop/shop-api",
}

// Scope is the path of the demo's scope file in Files.
const Scope = "ctem.yaml"
