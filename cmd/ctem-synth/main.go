// Command ctem-synth writes large synthetic scanner reports for measuring
// ctem: go run ./cmd/ctem-synth -format trivy -findings 1000000 > big.json
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/ctem-dev/ctem/internal/synth"
)

func main() {
	format := flag.String("format", "trivy", "trivy or sarif")
	n := flag.Int("findings", 100000, "number of findings")
	results := flag.Int("results", 10, "Trivy results (lockfiles)")
	drop := flag.Int("drop", 0, "leave out every Nth finding (a later scan)")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	var err error
	switch *format {
	case "trivy":
		err = synth.WriteTrivy(os.Stdout, synth.Trivy{Image: "registry.example.com/shop/api:1.0", Results: *results, Findings: *n, Seed: *seed, Drop: *drop})
	case "sarif":
		err = synth.WriteSARIF(os.Stdout, synth.SARIF{Tool: "synthetic-sast", Repo: "https://github.com/example/shop", Results: *n, Rules: 200, Seed: *seed, Drop: *drop})
	default:
		err = fmt.Errorf("unknown format %q", *format)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ctem-synth:", err)
		os.Exit(2)
	}
}
