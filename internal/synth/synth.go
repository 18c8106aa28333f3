// Package synth generates large synthetic scanner reports for benchmarks
// and scale tests: Trivy JSON and SARIF, streamed to a writer so that a
// report of any size costs no memory. The same seed gives the same bytes.
package synth

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
)

// Trivy describes a synthetic Trivy image report.
type Trivy struct {
	Image    string // image reference, e.g. "registry.example.com/shop/api:1.0"
	Results  int    // number of results (lockfiles); at least 1
	Findings int    // total vulnerabilities across results
	Seed     uint64
	// Drop, when > 0, leaves out every Drop-th vulnerability, to make a
	// "later scan" in which those were fixed.
	Drop int
}

var severities = []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"}

// WriteTrivy writes the report to w. Vulnerability i has id
// CVE-2000+i/… on package pkg-(i/3), so ids and packages repeat the way
// real reports do.
func WriteTrivy(w io.Writer, t Trivy) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	r := rand.New(rand.NewPCG(t.Seed, 1))
	if t.Results < 1 {
		t.Results = 1
	}
	fmt.Fprintf(bw, `{"SchemaVersion":2,"CreatedAt":"2026-01-01T00:00:00Z","ArtifactName":%q,"ArtifactType":"container_image","Metadata":{"RepoTags":[%q]},"Results":[`, t.Image, t.Image)
	per := (t.Findings + t.Results - 1) / t.Results
	n := 0
	for res := 0; res < t.Results; res++ {
		if res > 0 {
			bw.WriteString(",")
		}
		fmt.Fprintf(bw, `{"Target":"app/lock-%d.json","Class":"lang-pkgs","Type":"npm","Vulnerabilities":[`, res)
		first := true
		for j := 0; j < per && n < t.Findings; j++ {
			i := n
			n++
			if t.Drop > 0 && i%t.Drop == 0 {
				continue
			}
			if !first {
				bw.WriteString(",")
			}
			first = false
			sev := severities[r.IntN(len(severities))]
			year := 2000 + i%25
			fmt.Fprintf(bw, `{"VulnerabilityID":"CVE-%d-%d","PkgName":"pkg-%d","PkgIdentifier":{"PURL":"pkg:npm/pkg-%d@1.%d.0"},"InstalledVersion":"1.%d.0","FixedVersion":"1.%d.1","Status":"fixed","SeveritySource":"nvd","PrimaryURL":"https://avd.aquasec.com/nvd/cve-%d-%d","Title":"synthetic vulnerability %d in pkg-%d","Description":"A synthetic vulnerability used to measure ingest. It has a description of realistic length, so that the report weighs about what a real one of this many findings weighs, with references and CVSS vectors.","Severity":%q,"CweIDs":["CWE-%d"],"CVSS":{"nvd":{"V3Vector":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H","V3Score":9.8}},"References":["https://example.com/advisory/%d"],"PublishedDate":"2020-01-01T00:00:00Z"}`,
				year, 10000+i, i/3, i/3, i%7, i%7, i%7, year, 10000+i, i, i/3, sev, 20+i%900, i)
		}
		bw.WriteString("]}")
	}
	bw.WriteString("]}\n")
	return bw.Flush()
}

// SARIF describes a synthetic SARIF log of one run.
type SARIF struct {
	Tool    string
	Repo    string
	Results int
	Rules   int
	Seed    uint64
	Drop    int
}

// WriteSARIF writes the log to w.
func WriteSARIF(w io.Writer, s SARIF) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	r := rand.New(rand.NewPCG(s.Seed, 2))
	if s.Rules < 1 {
		s.Rules = 1
	}
	fmt.Fprintf(bw, `{"version":"2.1.0","$schema":"https://json.schemastore.org/sarif-2.1.0.json","runs":[{"tool":{"driver":{"name":%q,"version":"1.0.0","rules":[`, s.Tool)
	for i := 0; i < s.Rules; i++ {
		if i > 0 {
			bw.WriteString(",")
		}
		fmt.Fprintf(bw, `{"id":"R%d","name":"Rule%d","shortDescription":{"text":"synthetic rule %d"},"properties":{"tags":["security","external/cwe/cwe-%d"],"security-severity":"%.1f"}}`, i, i, i, 20+i%900, float64(r.IntN(100))/10)
	}
	fmt.Fprintf(bw, `]}},"versionControlProvenance":[{"repositoryUri":%q}],"results":[`, s.Repo)
	first := true
	for i := 0; i < s.Results; i++ {
		if s.Drop > 0 && i%s.Drop == 0 {
			continue
		}
		if !first {
			bw.WriteString(",")
		}
		first = false
		fmt.Fprintf(bw, `{"ruleId":"R%d","level":"warning","message":{"text":"synthetic result %d"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"src/file%d.go"},"region":{"startLine":%d,"startColumn":1,"snippet":{"text":"call(%d)"}}}}],"partialFingerprints":{"primaryLocationLineHash":"%016x:1"}}`,
			i%s.Rules, i, i/50, 1+i%50, i, uint64(i)*0x9e3779b97f4a7c15)
	}
	bw.WriteString("]}]}\n")
	return bw.Flush()
}
