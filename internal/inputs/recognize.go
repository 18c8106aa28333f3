package inputs

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/ctem-dev/ctem/internal/estate/terraform"
	"github.com/ctem-dev/ctem/internal/ingest"
)

// Verdict says whether ctem reads a file, and as what.
type Verdict struct {
	// Path is the file (or, for Terraform, the folder of .tf files).
	Path string
	// Format is the format of the content, when it is an input.
	Format ingest.Format
	// Skip says what the file is when it is not an input ctem reads
	// ("documentation", "a kustomize configuration"); it is empty when
	// the file is an input.
	Skip string
}

// IsInput reports whether ctem reads the file.
func (v Verdict) IsInput() bool { return v.Skip == "" }

// Err is the error for a file the user named explicitly that is no input:
// it wraps ingest.ErrUnknownFormat and says what the file is. It is nil
// for an input.
func (v Verdict) Err() error {
	if v.IsInput() {
		return nil
	}
	return fmt.Errorf("%s: %w: %s, not an input ctem reads (use --format to force one)", v.Path, ingest.ErrUnknownFormat, v.Skip)
}

// Recognize says whether the file at path is an input of reg, and of
// which format, as `ctem ingest` decides it: from the content's head (gzip
// undone), the name only explaining what a file that is no input is
// (documentation, a provenance table, kustomize or Helm configuration,
// YAML or JSON of no known format, a binary file). It returns an error
// when the file cannot be read, is corrupt gzip, or matches several
// formats (ingest.ErrAmbiguousFormat). A folder holding .tf files is one
// Terraform configuration.
//
// For a file found in a folder, the CLI skips a Verdict that is no input
// and lists it in one warning (see SkipWarning); for a file named
// explicitly it returns Verdict.Err. Standard input ("-") cannot be read
// twice and is not for Recognize; nor is a file given --format, which
// the user has recognised.
func Recognize(reg ingest.Registry, path string) (Verdict, error) {
	v := Verdict{Path: path}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		if HasTerraform(path) {
			v.Format = terraform.FormatHCL
			return v, nil
		}
		v.Skip = "a folder without Terraform (.tf or .tf.json) files"
		return v, nil
	}
	src, err := ingest.Open(path, nil)
	if err != nil {
		return v, err
	}
	defer src.Close()
	s := src.Sniff()
	f, err := reg.Detect(s)
	switch {
	case err == nil:
		v.Format = f
		return v, nil
	case errors.Is(err, ingest.ErrAmbiguousFormat):
		return v, fmt.Errorf("%s: %w", path, err)
	}
	v.Skip = whatIs(filepath.Base(path), s)
	return v, nil
}

// docName matches the names of documentation and legal files.
var docName = regexp.MustCompile(`(?i)^(readme|licen[cs]e|notice|changelog|contributing|authors|copying|code_of_conduct)([._-].*)?$|\.(md|markdown|rst|adoc|txt|html?)$`)

// whatIs says what a file that no format accepts is, from its name and
// head.
func whatIs(name string, s *ingest.Sniff) string {
	lower := strings.ToLower(name)
	trimmed := bytes.TrimSpace(s.Head)
	switch {
	case len(trimmed) == 0:
		return "an empty file"
	case lower == "sources.tsv":
		return "a provenance table (SOURCES.tsv)"
	case docName.MatchString(name):
		return "documentation"
	case slices.Contains([]string{"kustomization.yaml", "kustomization.yml", "kustomization"}, lower):
		return "a kustomize configuration (ingest the manifests it lists, or the output of kustomize build)"
	case lower == "chart.yaml" || lower == "values.yaml" || strings.HasPrefix(lower, "values-") && strings.HasSuffix(lower, ".yaml"):
		return "Helm chart configuration (ingest the output of helm template)"
	case lower == "skaffold.yaml":
		return "a Skaffold configuration"
	case lower == "ctem.yaml":
		return "a ctem scope file (ctem reads it as the scope, not as an input)"
	case lower == "codeowners":
		return "a CODEOWNERS file (pass it with --codeowners)"
	case strings.HasSuffix(lower, ".tsv") || strings.HasSuffix(lower, ".csv"):
		return "a table of no known report format"
	case bytes.IndexByte(s.Head, 0) >= 0:
		return "a binary file"
	}
	switch s.Kind {
	case ingest.SniffYAML:
		return "YAML that is no Kubernetes manifest or inventory"
	case ingest.SniffJSONObject, ingest.SniffJSONArray:
		return "JSON of no known report format"
	case ingest.SniffXML:
		return fmt.Sprintf("XML of no known report format (root element <%s>)", s.XMLRoot.Local)
	}
	return "text of no known format"
}

// Folder lists what `ctem ingest DIR` reads in dir: the regular files
// below it in name order, hidden files and folders left out, each with
// its Verdict, split into the inputs and the files skipped. A dir that
// holds .tf files is one Terraform input. It stops at the first error of
// Recognize.
func Folder(reg ingest.Registry, dir string) (inputs, skipped []Verdict, err error) {
	if HasTerraform(dir) {
		v, err := Recognize(reg, dir)
		return []Verdict{v}, nil, err
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != dir {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		v, err := Recognize(reg, p)
		if err != nil {
			return err
		}
		if v.IsInput() {
			inputs = append(inputs, v)
		} else {
			skipped = append(skipped, v)
		}
		return nil
	})
	return inputs, skipped, err
}

// SkipWarning is the one warning that lists the files of a folder that
// are not inputs, with what each is, or "" when there are none:
//
//	skipped 2 files that are not inputs ctem reads: k8s/README.md (documentation), k8s/kustomization.yaml (a kustomize configuration ...)
func SkipWarning(skipped []Verdict) string {
	if len(skipped) == 0 {
		return ""
	}
	parts := make([]string, len(skipped))
	for i, v := range skipped {
		parts[i] = v.Path + " (" + v.Skip + ")"
	}
	noun := "files that are"
	if len(skipped) == 1 {
		noun = "file that is"
	}
	return fmt.Sprintf("skipped %d %s not inputs ctem reads: %s", len(skipped), noun, strings.Join(parts, ", "))
}

// HasTerraform reports whether dir holds Terraform configuration in
// either syntax: native (.tf) or JSON (.tf.json) files. Such a folder is
// one Terraform input, read as Terraform reads a root module.
func HasTerraform(dir string) bool {
	for _, pat := range []string{"*.tf", "*.tf.json"} {
		if m, _ := filepath.Glob(filepath.Join(dir, pat)); len(m) > 0 {
			return true
		}
	}
	return false
}
