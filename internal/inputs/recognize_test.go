package inputs_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/inputs"
)

// verdicts maps each file's base name to its format, or to "skip: " and
// what it is.
func verdicts(vs ...[]inputs.Verdict) map[string]string {
	m := map[string]string{}
	for _, list := range vs {
		for _, v := range list {
			if v.IsInput() {
				m[filepath.Base(v.Path)] = v.Format.Name
			} else {
				m[filepath.Base(v.Path)] = "skip: " + v.Skip
			}
		}
	}
	return m
}

func TestFolder(t *testing.T) {
	t.Parallel()
	reg := inputs.All()
	for _, tc := range []struct {
		dir        string
		want       map[string]string
		nInputs    int
		wantInWarn []string
	}{{
		// The demo's reports, with their provenance table.
		dir: "../../examples/reports",
		want: map[string]string{
			"SOURCES.tsv":                 "skip: a provenance table (SOURCES.tsv)",
			"edge-proxy-image.trivy.json": "trivy",
			"shop-api-image.trivy.json":   "trivy",
			"shop-api.gosec.sarif":        "sarif",
		},
		nInputs:    3,
		wantInWarn: []string{"skipped 1 file that is not", "SOURCES.tsv (a provenance table"},
	}, {
		// Online Boutique's manifests folder, with its README and
		// kustomization, and a Helm values file.
		dir: "testdata/boutique",
		want: map[string]string{
			"README.md":          "skip: documentation",
			"adservice.yaml":     "kubernetes",
			"cartservice.yaml":   "kubernetes",
			"frontend.yaml":      "kubernetes",
			"kustomization.yaml": "skip: a kustomize configuration (ingest the manifests it lists, or the output of kustomize build)",
			"values.yaml":        "skip: Helm chart configuration (ingest the output of helm template)",
		},
		nInputs:    3,
		wantInWarn: []string{"skipped 3 files that are not", "README.md (documentation)", "kustomization.yaml (a kustomize"},
	}} {
		in, skipped, err := inputs.Folder(reg, tc.dir)
		if err != nil {
			t.Fatalf("Folder(%s): %v", tc.dir, err)
		}
		if diff := cmp.Diff(verdicts(in, skipped), tc.want); diff != "" || len(in) != tc.nInputs {
			t.Errorf("Folder(%s) = %d inputs (-got +want):\n%s", tc.dir, len(in), diff)
		}
		warn := inputs.SkipWarning(skipped)
		for _, w := range tc.wantInWarn {
			if !strings.Contains(warn, w) {
				t.Errorf("SkipWarning(Folder(%s)) = %q, want it to hold %q", tc.dir, warn, w)
			}
		}
	}
}

// TestRecognizeExplicit checks files named explicitly: an input is
// recognised, anything else is an error saying what the file is.
func TestRecognizeExplicit(t *testing.T) {
	t.Parallel()
	reg := inputs.All()
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		path, format, err string
	}{
		{"testdata/boutique/frontend.yaml", "kubernetes", ""},
		{"../../examples/reports/shop-api.gosec.sarif", "sarif", ""},
		{"testdata/boutique/README.md", "", "README.md: unknown input format: documentation, not an input ctem reads"},
		{"testdata/boutique/kustomization.yaml", "", "a kustomize configuration"},
		{write("empty.json", " \n"), "", "an empty file"},
		{write("workflow.yml", "name: ci\non: push\njobs: {}\n"), "", "YAML that is no Kubernetes manifest or inventory"},
		{write("other.json", `{"hello": "world"}`), "", "JSON of no known report format"},
		{write("page.xml", `<?xml version="1.0"?><project/>`), "", "XML of no known report format (root element <project>)"},
		{write("blob.bin", "\x00\x01\x02"), "", "a binary file"},
	} {
		v, err := inputs.Recognize(reg, tc.path)
		if err != nil {
			t.Fatalf("Recognize(%s): %v", tc.path, err)
		}
		if v.Format.Name != tc.format {
			t.Errorf("Recognize(%s) = %q, want %q", tc.path, v.Format.Name, tc.format)
		}
		got := v.Err()
		switch {
		case tc.err == "" && got != nil:
			t.Errorf("Recognize(%s).Err() = %v, want nil", tc.path, got)
		case tc.err != "" && (got == nil || !strings.Contains(got.Error(), tc.err) || !errors.Is(got, ingest.ErrUnknownFormat)):
			t.Errorf("Recognize(%s).Err() = %v, want ErrUnknownFormat with %q", tc.path, got, tc.err)
		}
	}
	tf := "../estate/terraform/testdata/estate"
	in, skipped, err := inputs.Folder(reg, tf)
	if err != nil || len(in) != 1 || len(skipped) != 0 || in[0].Path != tf || in[0].Format.Name != "terraform-hcl" {
		t.Errorf("Folder(%s) = %+v, %d skipped, %v; want the folder as one Terraform input", tf, in, len(skipped), err)
	}
	if _, err := inputs.Recognize(reg, filepath.Join(dir, "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Recognize(missing) = %v, want ErrNotExist", err)
	}
}

// TestFolderOfTerraformJSON checks that a folder holding only JSON-syntax
// Terraform (.tf.json) is one Terraform input, as a folder of .tf files
// is, and that a folder with neither is not.
func TestFolderOfTerraformJSON(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	body := `{"resource": {"aws_s3_bucket": {"data": {"bucket": "data"}}}}`
	if err := os.WriteFile(filepath.Join(dir, "main.tf.json"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	in, skipped, err := inputs.Folder(inputs.All(), dir)
	if err != nil || len(in) != 1 || len(skipped) != 0 || in[0].Path != dir {
		t.Fatalf("Folder(.tf.json only) = %+v, %+v, %v; want the folder as one input", in, skipped, err)
	}
	if !inputs.HasTerraform(dir) || inputs.HasTerraform(t.TempDir()) {
		t.Errorf("HasTerraform(.tf.json folder, empty folder) = %v, %v; want true, false", inputs.HasTerraform(dir), inputs.HasTerraform(t.TempDir()))
	}
}
