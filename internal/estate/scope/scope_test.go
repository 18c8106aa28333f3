package scope

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/model"
)

func TestStarterParsesAndValidates(t *testing.T) {
	t.Parallel()
	s, err := Parse("ctem.yaml", bytes.NewReader(Starter()))
	if err != nil {
		t.Fatalf("Parse(Starter()) = %v, want nil", err)
	}
	if errs := s.Validate(); len(errs) > 0 {
		t.Fatalf("Starter().Validate() = %v, want none", errs)
	}
	if got := s.Entries(); !cmp.Equal(got, []EntryPoint{{Network: EntryInternet}}) {
		t.Errorf("Starter entries = %+v, want internet", got)
	}
	if d, ok := s.SLA.For("critical"); !ok || d != 7*24*time.Hour {
		t.Errorf("Starter SLA.For(critical) = %v, %v; want 168h, true", d, ok)
	}
	// Starter returns a copy.
	b := Starter()
	b[0] = 'X'
	if Starter()[0] == 'X' {
		t.Error("Starter() shares its buffer")
	}
}

func TestLoadExample(t *testing.T) {
	t.Parallel()
	s, err := Load("testdata/example.yaml")
	if err != nil {
		t.Fatalf("Load(example) = %v", err)
	}
	wantEntries := []EntryPoint{{Network: "internet"}, {Identity: "k8s:boutique/default/ServiceAccount/loadgenerator"}}
	if diff := cmp.Diff(s.Entries(), wantEntries); diff != "" {
		t.Errorf("Entries (-got +want):\n%s", diff)
	}
	if got, want := s.SLA.High, Duration(14*24*time.Hour); got != want {
		t.Errorf("SLA.High = %v, want %v", got, want)
	}
	if got := s.SLA.High.String(); got != "2w" {
		t.Errorf("SLA.High.String() = %q, want 2w", got)
	}
	ns := func(key string, kind model.AssetKind, labels map[string]string) *model.Asset {
		return &model.Asset{Key: key, Kind: kind, Name: key[strings.LastIndex(key, "/")+1:], Labels: labels}
	}
	tests := []struct {
		name  string
		asset *model.Asset
		want  Annotation
		jewel string
	}{
		{
			name:  "checkout workload",
			asset: ns("k8s:boutique/default/Deployment/checkoutservice", model.KindWorkload, map[string]string{"app": "checkoutservice", "namespace": "default"}),
			want:  Annotation{Owner: "team-payments", Service: "checkout", Criticality: "critical", Environment: "production"},
		},
		{
			name:  "frontend image by source label",
			asset: &model.Asset{Key: "image:gcr.io/x/frontend:v1", Kind: model.KindImage, Labels: map[string]string{ImageSourceLabel: "https://github.com/GoogleCloudPlatform/microservices-demo.git"}},
			want:  Annotation{Owner: "team-web", Service: "storefront", Criticality: "high"},
		},
		{
			name:  "repository itself",
			asset: &model.Asset{Key: "repo:github.com/googlecloudplatform/microservices-demo", Kind: model.KindRepository},
			want:  Annotation{Owner: "team-web", Service: "storefront", Criticality: "high"},
		},
		{
			name:  "redis is a crown jewel",
			asset: ns("k8s:boutique/default/Deployment/redis-cart", model.KindWorkload, map[string]string{"app": "redis-cart", "namespace": "default"}),
			want:  Annotation{Owner: "team-platform", Service: "everything-else", Criticality: "low", Environment: "production"},
			jewel: "cart-store",
		},
		{
			name:  "secret: ownership rule wins over the service owner",
			asset: ns("k8s:boutique/payments/Secret/stripe", model.KindSecret, map[string]string{"namespace": "payments"}),
			want:  Annotation{Owner: "team-security", Service: "everything-else", Criticality: "low", Environment: "production"},
			jewel: "payment-keys",
		},
		{
			name:  "ARN",
			asset: &model.Asset{Key: "arn:aws:s3:::audit-logs", Kind: model.KindDatastore},
			want:  Annotation{Environment: "cloud"},
			jewel: "audit-bucket",
		},
		{
			name:  "unrelated",
			asset: &model.Asset{Key: "host:10.0.0.1", Kind: model.KindHost},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := s.Apply(tt.asset)
			jewel := ""
			if got.CrownJewel != nil {
				jewel = got.CrownJewel.Name
			}
			got.CrownJewel = nil
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("Apply(%s) (-got +want):\n%s", tt.asset.Key, diff)
			}
			if jewel != tt.jewel {
				t.Errorf("Apply(%s).CrownJewel = %q, want %q", tt.asset.Key, jewel, tt.jewel)
			}
		})
	}
}

func TestMinimalAndEmpty(t *testing.T) {
	t.Parallel()
	s, err := Load("testdata/minimal.yaml")
	if err != nil {
		t.Fatalf("Load(minimal) = %v", err)
	}
	if got := s.Apply(&model.Asset{Key: "arn:aws:rds:x", Kind: model.KindDatastore}).CrownJewel; got == nil || got.Value != 10 {
		t.Errorf("Apply(datastore).CrownJewel = %+v, want value 10", got)
	}
	for _, in := range []string{"", "# only a comment\n", "---\n", "null\n"} {
		s, err := Parse("empty.yaml", strings.NewReader(in))
		if err != nil {
			t.Errorf("Parse(%q) = %v, want nil", in, err)
			continue
		}
		if errs := s.Validate(); len(errs) > 0 {
			t.Errorf("Parse(%q).Validate() = %v", in, errs)
		}
		if got := s.Entries(); len(got) != 1 || got[0].Network != EntryInternet {
			t.Errorf("Parse(%q).Entries() = %+v, want internet", in, got)
		}
	}
	var nilScope *Scope
	if got := nilScope.Apply(&model.Asset{Key: "x"}); got != (Annotation{}) {
		t.Errorf("nil.Apply = %+v, want zero", got)
	}
}

func TestDefault(t *testing.T) {
	t.Parallel()
	d := Default()
	if errs := d.Validate(); len(errs) > 0 {
		t.Fatalf("Default().Validate() = %v", errs)
	}
	if len(d.CrownJewels) != 0 || len(d.Entries()) != 1 || d.Entries()[0].Network != EntryInternet {
		t.Errorf("Default() = %+v, want internet entry and no jewels", d)
	}
	if got := d.Apply(&model.Asset{Key: "image:x", Kind: model.KindImage}); got != (Annotation{}) {
		t.Errorf("Default().Apply = %+v, want zero", got)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     []string // substrings of the error, "file:line:col: ..." first
	}{
		{"unknown top key", "version: 1\nservice:\n  - name: x\n", []string{`bad.yaml:2:1: unknown key "service"`}},
		{"unknown selector key", "services:\n  - name: a\n    match:\n      - lables: {app: x}\n", []string{`bad.yaml:4:9: unknown key "lables"`}},
		{"unknown entry key", "entry_points:\n  - identity: k\n    role: x\n", []string{`bad.yaml:3:5:`, `role`}},
		{"two errors", "version: 1\nfoo: 1\nbar: 2\n", []string{`bad.yaml:2:1: unknown key "foo"`, `bad.yaml:3:1: unknown key "bar"`}},
		{"wrong type", "crown_jewels:\n  - value: ten\n    match: [{kind: secret}]\n", []string{"bad.yaml:2:12:", "ten"}},
		{"bad duration", "sla:\n  high: 3 months\n", []string{"bad.yaml:2:9:", "duration"}},
		{"duration not scalar", "sla:\n  high: [1]\n", []string{"bad.yaml:2:9:", "duration"}},
		{"entry point list", "entry_points:\n  - [internet]\n", []string{"bad.yaml:2:5:", "entry point"}},
		{"syntax", "services:\n  - name: a\n   owner: b\n", []string{"bad.yaml:1:", "invalid YAML"}},
		{"tab", "services:\n\t- name: a\n", []string{"bad.yaml:2:", "invalid YAML"}},
		{"two documents", "version: 1\n---\nversion: 1\n", []string{"bad.yaml:2:1: a scope file holds one YAML document"}},
		{"not a mapping", "- services\n", []string{"bad.yaml:1:1: a scope file is a mapping"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("bad.yaml", strings.NewReader(tt.in))
			if err == nil {
				t.Fatalf("Parse(%q) = nil, want an error", tt.in)
			}
			if _, ok := errors.AsType[*Error](err); !ok {
				t.Errorf("Parse(%q) error %T is no *Error", tt.in, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Parse(%q) = %q, want it to contain %q", tt.in, err, w)
				}
			}
		})
	}
}

func TestValidateErrors(t *testing.T) {
	t.Parallel()
	in := `version: 2
services:
  - name: a
    criticality: urgent
    match: [{labels: {app: a}}]
  - name: a
    match: [{}]
crown_jewels:
  - value: 11
    data: [pii, secrets]
    match: [{kind: databse}]
entry_points:
  - dmz
ownership:
  - team: ""
    match: [{arn: "aws:s3"}]
environments:
  - name: prod
`
	s, err := Parse("v.yaml", strings.NewReader(in))
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	var got []string
	for _, e := range s.Validate() {
		got = append(got, e.Error())
	}
	want := []string{
		`v.yaml:1:10: version: version 2 is not supported (want 1)`,
		`v.yaml:4:18: services[0].criticality: criticality "urgent" is not one of critical, high, medium, low`,
		`v.yaml:6:11: services[1].name: service "a" is defined twice`,
		`v.yaml:7:13: services[1].match[0]: an empty selector matches nothing; write key: "*" to match every asset`,
		`v.yaml:9:12: crown_jewels[0].value: value 11 is not from 1 to 10`,
		`v.yaml:10:17: crown_jewels[0].data[1]: data class "secrets" is not one of pii, pci, phi, credentials, source-code`,
		`v.yaml:11:20: crown_jewels[0].match[0].kind: kind "databse" is not an asset kind (repository, image, package, workload, host, function, load-balancer, endpoint, identity, secret, datastore, network, cluster, account, node, file, resource)`,
		`v.yaml:13:5: entry_points[0]: entry point "dmz" is not internet, internal-network or {identity: KEY}`,
		`v.yaml:15:5: ownership[0]: an ownership rule needs a team`,
		`v.yaml:16:19: ownership[0].match[0].arn: ARN pattern "aws:s3" does not start with arn:`,
		`v.yaml:18:5: environments[0].match: at least one selector is needed`,
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Validate() (-got +want):\n%s", diff)
	}
	if _, err := Load(writeTemp(t, in)); err == nil {
		t.Error("Load(invalid scope) = nil error, want the validation errors")
	}
}

func writeTemp(t testing.TB, content string) string {
	t.Helper()
	p := t.TempDir() + "/ctem.yaml"
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadMissing(t *testing.T) {
	t.Parallel()
	if _, err := Load("testdata/does-not-exist.yaml"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want os.ErrNotExist", err)
	}
}

func TestGlob(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "k8s:a/b/c", true},
		{"k8s:prod/*", "k8s:prod/ns/Deployment/x", true},
		{"k8s:prod/*", "k8s:staging/ns/Deployment/x", false},
		{"*/Deployment/*", "k8s:c/ns/Deployment/x", true},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"abc", "abcd", false},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"héllo*", "héllo wörld", true},
		{"", "", true},
		{"", "x", false},
	}
	for _, tt := range tests {
		if got := Glob(tt.pattern, tt.s); got != tt.want {
			t.Errorf("Glob(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestSelectorMatch(t *testing.T) {
	t.Parallel()
	wl := &model.Asset{Key: "k8s:c/shop/Deployment/web", Kind: model.KindWorkload, Name: "web",
		Labels: map[string]string{"app": "web", "tier": "frontend", "namespace": "shop"}}
	tests := []struct {
		name string
		sel  Selector
		a    *model.Asset
		want bool
	}{
		{"kind", Selector{Kind: "workload"}, wl, true},
		{"kind mismatch", Selector{Kind: "image"}, wl, false},
		{"all labels", Selector{Labels: map[string]string{"app": "web", "tier": "front*"}}, wl, true},
		{"one label missing", Selector{Labels: map[string]string{"app": "web", "team": "x"}}, wl, false},
		{"namespace", Selector{Namespace: "sh*"}, wl, true},
		{"namespace and kind", Selector{Namespace: "shop", Kind: "secret"}, wl, false},
		{"name", Selector{Name: "w?b"}, wl, true},
		{"empty matches nothing", Selector{}, wl, false},
		{"nil asset", Selector{Key: "*"}, nil, false},
		{"repository key", Selector{Repository: "git@github.com:Org/Repo.git"}, &model.Asset{Key: "repo:github.com/org/repo"}, true},
		{"repository label", Selector{Repository: "https://github.com/org/repo"}, &model.Asset{Key: "image:x", Labels: map[string]string{ImageSourceLabel: "https://github.com/Org/Repo"}}, true},
		{"repository other", Selector{Repository: "github.com/org/repo"}, &model.Asset{Key: "repo:github.com/org/repo2"}, false},
		{"arn", Selector{ARN: "arn:aws:iam::*:role/admin*"}, &model.Asset{Key: "arn:aws:iam::1234:role/admin-ci"}, true},
		{"arn on non-arn key", Selector{ARN: "*"}, wl, false},
	}
	for _, tt := range tests {
		if got := tt.sel.Match(tt.a); got != tt.want {
			t.Errorf("%s: %+v.Match = %v, want %v", tt.name, tt.sel, got, tt.want)
		}
	}
}

func TestDuration(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "36h": 36 * time.Hour, "90m": 90 * time.Minute, "1w": 7 * 24 * time.Hour, "5200w": 5200 * 7 * 24 * time.Hour} {
		got, err := ParseDuration(in)
		if err != nil || time.Duration(got) != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	// 999999w would overflow time.Duration into a negative SLA.
	for _, in := range []string{"", "7", "d", "-1d", "7y", "1.5d", "9999999d", "999999w", "5201w", "999999d"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = nil error, want one", in)
		}
	}
	if _, ok := (SLA{}).For("critical"); ok {
		t.Error("SLA{}.For(critical) ok, want not set")
	}
}

func TestCodeOwners(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/CODEOWNERS")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	co, err := ParseCODEOWNERS(f)
	if err != nil {
		t.Fatalf("ParseCODEOWNERS = %v", err)
	}
	if got := len(co.Rules); got != 7 {
		t.Errorf("rules = %d, want 7", got)
	}
	tests := []struct {
		path string
		want []string
	}{
		{"README.md", []string{"@example/platform", "@alice"}},
		{"src/frontend/main.go", []string{"@example/web"}},
		{"/src/frontend/deep/x.go", []string{"@example/web"}},
		{"src/frontend/api.proto", []string{"@example/api"}},
		{"pb/demo.proto", []string{"@example/api"}},
		{"docs/intro.md", []string{"docs@example.com"}},
		{"docs/sub/intro.md", []string{"@example/platform", "@alice"}},
		{"build/logs/x.log", nil},
		{"src/a/b/secrets", []string{"@example/security"}},
		{"src/a/b/secrets/key.pem", []string{"@example/security"}},
		{"path with space", []string{"@bob"}},
	}
	for _, tt := range tests {
		if got := co.Owners(tt.path); !cmp.Equal(got, tt.want) {
			t.Errorf("Owners(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
	rule, ok := co.Rule("https://github.com/example/shop.git")
	if !ok || rule.Team != "@example/platform" {
		t.Fatalf("Rule = %+v, %v; want team @example/platform", rule, ok)
	}
	s := &Scope{Ownership: []OwnershipRule{rule}}
	if got := s.Apply(&model.Asset{Key: "repo:github.com/example/shop", Kind: model.KindRepository}).Owner; got != "@example/platform" {
		t.Errorf("Apply(repo).Owner = %q, want @example/platform", got)
	}
	if _, err := ParseCODEOWNERS(strings.NewReader("ok @a\n!neg @b\n")); err == nil || !strings.Contains(err.Error(), "CODEOWNERS:2:1") {
		t.Errorf("ParseCODEOWNERS(negation) = %v, want an error at line 2", err)
	}
	empty, _ := ParseCODEOWNERS(strings.NewReader("# nothing\n/docs @d\n"))
	if _, ok := empty.Rule("github.com/x/y"); ok {
		t.Error("Rule without a catch-all = ok, want false")
	}
	root, _ := ParseCODEOWNERS(strings.NewReader("/ @root\n"))
	if got := root.Owners("a/b/c"); !cmp.Equal(got, []string{"@root"}) {
		t.Errorf(`Owners under "/" = %q, want @root`, got)
	}
}

// TestCodeOwnersInvalid checks that malformed CODEOWNERS files are
// errors naming the line, never a panic: a line holding only a backslash
// (which once crashed `ctem --codeowners r=FILE assets`), a line longer
// than the scanner holds, a file beyond GitHub's 3 MB.
func TestCodeOwnersInvalid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, data, want string
	}{
		{"lone backslash", "* @a\n\\\n", `CODEOWNERS:2:1: line "\\" holds no pattern`},
		{"backslash and blanks", "* @a\n# c\n  \\  \n", `CODEOWNERS:3:1: line "\\" holds no pattern`},
		{"long line", "* @a\n" + strings.Repeat("x", 2<<20) + "\n", "CODEOWNERS:2: line longer than 1 MiB"},
		{"large file", strings.Repeat("#"+strings.Repeat("x", 1023)+"\n", 3<<10) + "/docs/ @docs\n", "CODEOWNERS: file larger than 3145728 bytes (GitHub's limit)"},
	} {
		_, err := ParseCODEOWNERS(strings.NewReader(tc.data))
		if _, ok := errors.AsType[*Error](err); !ok || err.Error() != tc.want {
			t.Errorf("ParseCODEOWNERS(%s) = %v, want %s", tc.name, err, tc.want)
		}
	}
	if co, err := ParseCODEOWNERS(strings.NewReader("a\\ b @x\n")); err != nil || len(co.Rules) != 1 || co.Rules[0].Pattern != "a b" {
		t.Errorf("ParseCODEOWNERS(escaped space) = %+v, %v; want the pattern \"a b\"", co, err)
	}
}

// FuzzCODEOWNERS checks that any CODEOWNERS file parses or fails with an
// *Error, and that every rule it keeps has a pattern that matches
// without panicking.
func FuzzCODEOWNERS(f *testing.F) {
	b, err := os.ReadFile("testdata/CODEOWNERS")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("\\\n"))
	f.Add([]byte("docs/**/x?.md @a # c\n[Section] @b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		co, err := ParseCODEOWNERS(bytes.NewReader(data))
		if err != nil {
			if _, ok := errors.AsType[*Error](err); !ok {
				t.Fatalf("ParseCODEOWNERS = %v (%T), want an *Error", err, err)
			}
			return
		}
		for _, r := range co.Rules {
			if r.Pattern == "" || r.Line < 1 {
				t.Fatalf("rule %+v without pattern or line", r)
			}
			co.Owners(r.Pattern)
		}
		co.DefaultOwners()
	})
}

// FuzzDuration checks that ParseDuration accepts only durations from 0
// to about 100 years, which String writes back to the same duration.
func FuzzDuration(f *testing.F) {
	for _, s := range []string{"7d", "2w", "36h", "90m", "999999w", " 0m", "5200w"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		if d < 0 || time.Duration(d) > maxDuration {
			t.Fatalf("ParseDuration(%q) = %v, out of range", s, time.Duration(d))
		}
		back, err := ParseDuration(d.String())
		if err != nil || back != d {
			t.Fatalf("ParseDuration(%q) = %v, whose String %q reads back as %v, %v", s, time.Duration(d), d.String(), time.Duration(back), err)
		}
	})
}

func FuzzParse(f *testing.F) {
	f.Add(Starter())
	for _, p := range []string{"testdata/example.yaml", "testdata/minimal.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.yaml", bytes.NewReader(data))
		if err != nil {
			return
		}
		_ = s.Validate()
		s.Apply(&model.Asset{Key: "k8s:c/ns/Deployment/x", Kind: model.KindWorkload, Labels: map[string]string{"namespace": "ns"}})
	})
}
