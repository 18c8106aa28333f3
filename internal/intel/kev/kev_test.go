package kev

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func readFile(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func date(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestSnapshot(t *testing.T) {
	t.Parallel()
	c, err := Snapshot()
	if err != nil {
		t.Fatalf("Snapshot() error %v", err)
	}
	if c.Version != "2026.01.29" || c.Len() != 1501 {
		t.Errorf("Snapshot() = version %q, %d entries, want 2026.01.29, 1501", c.Version, c.Len())
	}
	if want := time.Date(2026, 1, 29, 20, 24, 37, 95900000, time.UTC); !c.Released.Equal(want) {
		t.Errorf("Snapshot().Released = %v, want %v", c.Released, want)
	}
	if again, _ := Snapshot(); again != c {
		t.Errorf("Snapshot() returned a new catalog on the second call")
	}
	tests := []struct {
		cve        string
		vendor     string
		product    string
		added      string
		due        string
		ransomware bool
	}{
		{"CVE-2026-1281", "Ivanti", "Endpoint Manager Mobile (EPMM)", "2026-01-29", "2026-02-01", false},
		{"CVE-2021-44228", "Apache", "Log4j2", "2021-12-10", "2021-12-24", true},
		{" cve-2020-29583 ", "Zyxel", "Multiple Products", "2021-11-03", "2022-05-03", false},
	}
	for _, tt := range tests {
		e, ok := c.Lookup(tt.cve)
		if !ok {
			t.Errorf("Lookup(%q) not found", tt.cve)
			continue
		}
		if e.VendorProject != tt.vendor || e.Product != tt.product || !e.DateAdded.Equal(date(tt.added)) || !e.DueDate.Equal(date(tt.due)) || e.KnownRansomware() != tt.ransomware {
			t.Errorf("Lookup(%q) = %s %q %q added %s due %s ransomware %v, want %q %q %s %s %v", tt.cve,
				e.CVE, e.VendorProject, e.Product, e.DateAdded.Format(time.DateOnly), e.DueDate.Format(time.DateOnly), e.KnownRansomware(),
				tt.vendor, tt.product, tt.added, tt.due, tt.ransomware)
		}
		if e.ShortDescription == "" {
			t.Errorf("Lookup(%q).ShortDescription is empty", tt.cve)
		}
	}
	if e, ok := c.Lookup("CVE-1999-0001"); ok {
		t.Errorf("Lookup(CVE-1999-0001) = %+v, want not found", e)
	}
	cves := c.CVEs()
	if len(cves) != 1501 || cves[0] > cves[1] {
		t.Errorf("CVEs() = %d ids starting %v, want 1501 sorted", len(cves), cves[:2])
	}
}

func TestLoadSubset(t *testing.T) {
	t.Parallel()
	c, err := Load(bytes.NewReader(readFile(t, "testdata/kev-subset.json")))
	if err != nil {
		t.Fatalf("Load(kev-subset.json) error %v", err)
	}
	got, _ := c.Lookup("CVE-2021-44228")
	want := Entry{
		CVE:               "CVE-2021-44228",
		VendorProject:     "Apache",
		Product:           "Log4j2",
		VulnerabilityName: "Apache Log4j2 Remote Code Execution Vulnerability",
		DateAdded:         date("2021-12-10"),
		ShortDescription:  "Apache Log4j2 contains a vulnerability where JNDI features do not protect against attacker-controlled JNDI-related endpoints, allowing for remote code execution.",
		RequiredAction:    got.RequiredAction,
		DueDate:           date("2021-12-24"),
		RansomwareUse:     RansomwareKnown,
		Notes:             "https://nvd.nist.gov/vuln/detail/CVE-2021-44228",
		CWEs:              []string{"CWE-20", "CWE-400", "CWE-502"},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Lookup(CVE-2021-44228) (-got +want):\n%s", diff)
	}
	if !strings.HasPrefix(got.RequiredAction, "For all affected software assets") {
		t.Errorf("Lookup(CVE-2021-44228).RequiredAction = %q", got.RequiredAction)
	}
}

func TestLoadInvalid(t *testing.T) {
	t.Parallel()
	good := string(readFile(t, "testdata/kev-subset.json"))
	tests := []struct {
		name string
		in   string
		want string // in the error text
	}{
		{"empty", "", "EOF"},
		{"array", "[]", "want a JSON object"},
		{"truncated in an entry", good[:len(good)/2], "EOF"},
		{"truncated before the end", strings.TrimSpace(good)[:len(strings.TrimSpace(good))-1], "EOF"},
		{"trailing data", good + "{}", "after the catalog"},
		{"count mismatch", strings.Replace(good, `"count": 3`, `"count": 4`, 1), "count is 4 but the catalog lists 3"},
		{"count missing", strings.Replace(good, `"count": 3,`, ``, 1), "no count"},
		{"bad version", strings.Replace(good, `"2026.01.29"`, `"latest"`, 1), "catalogVersion"},
		{"bad release", strings.Replace(good, `"2026-01-29T20:24:37.0959Z"`, `"yesterday"`, 1), "dateReleased"},
		{"bad cve", strings.Replace(good, `"CVE-2021-44228"`, `"CVE-21-44228"`, 1), "not a CVE id"},
		{"duplicate cve", strings.Replace(good, `"CVE-2020-29583"`, `"CVE-2021-44228"`, 1), "listed twice"},
		{"bad date added", strings.Replace(good, `"2021-12-10"`, `"12/10/2021"`, 1), "dateAdded"},
		{"bad due date", strings.Replace(good, `"2021-12-24"`, `"soon"`, 1), "dueDate"},
		{"bad ransomware", strings.Replace(good, `"Known"`, `"Maybe"`, 1), "knownRansomwareCampaignUse"},
		{"wrong type", strings.Replace(good, `"count": 3`, `"count": "3"`, 1), "count"},
		{"no vulnerabilities", `{"catalogVersion":"2026.01.29","dateReleased":"2026-01-29T20:24:37Z","count":0}`, "no vulnerabilities"},
		{"vulnerabilities not an array", `{"catalogVersion":"2026.01.29","dateReleased":"2026-01-29T20:24:37Z","count":0,"vulnerabilities":{}}`, "want an array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(strings.NewReader(tt.in))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load(%.40q) = %v, %v, want an ErrInvalid error containing %q", tt.in, c, err, tt.want)
			}
		})
	}
}

func TestLoadMinimal(t *testing.T) {
	t.Parallel()
	in := `{"catalogVersion":"2026.01.29","dateReleased":"2026-01-29T20:24:37Z","count":1,"extra":[1,{"a":2}],
	"vulnerabilities":[{"cveID":"CVE-2024-12345","dateAdded":"2024-01-02","future":true}]}`
	c, err := Load(strings.NewReader(in))
	if err != nil {
		t.Fatalf("Load(minimal) error %v", err)
	}
	e, ok := c.Lookup("CVE-2024-12345")
	if !ok || e.RansomwareUse != RansomwareUnknown || !e.DueDate.IsZero() {
		t.Errorf("Lookup(CVE-2024-12345) = %+v, %v, want an Unknown entry without due date", e, ok)
	}
}

func FuzzLoad(f *testing.F) {
	f.Add(readFile(f, "testdata/kev-subset.json"))
	f.Add([]byte(`{"catalogVersion":"2026.01.29","dateReleased":"2026-01-29T20:24:37Z","count":0,"vulnerabilities":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Load(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Load() error %v does not match ErrInvalid", err)
			}
			return
		}
		for _, id := range c.CVEs() {
			if _, ok := c.Lookup(id); !ok || !cveRE.MatchString(id) {
				t.Fatalf("Load() kept an entry %q that does not look up or is malformed", id)
			}
		}
	})
}
