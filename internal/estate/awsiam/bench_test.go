package awsiam_test

import (
	"os"
	"testing"

	"github.com/ctem-dev/ctem/internal/estate/awsiam"
	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
)

// BenchmarkParse parses the iam-vulnerable account (44 users, 78 roles,
// 84 policies; 824 KB) and evaluates every principal.
func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile("testdata/iam-vulnerable.json.gz")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := ingesttest.ParseBytes(awsiam.Format, "authz.json.gz", data, ingest.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
