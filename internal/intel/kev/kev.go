// Package kev loads CISA's catalog of Known Exploited Vulnerabilities
// (KEV), validates it, and looks vulnerabilities up by CVE id. A snapshot
// of the catalog is embedded for use without a network.
package kev

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// ErrInvalid is matched (errors.Is) by every error Load returns for input
// that is not a complete, consistent KEV catalog: bad JSON, a truncated
// file, a missing or malformed catalogVersion or dateReleased, a count
// that does not match the entries, a malformed or repeated cveID, or a
// malformed date.
var ErrInvalid = errors.New("invalid KEV catalog")

// Error is the error Load returns for invalid input. It matches ErrInvalid.
type Error struct {
	Offset int64  // byte offset in the (uncompressed) input, -1 when unknown
	CVE    string // the entry at fault, when there is one
	Err    error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("kev")
	if e.Offset >= 0 {
		fmt.Fprintf(&b, ": byte %d", e.Offset)
	}
	if e.CVE != "" {
		fmt.Fprintf(&b, ": %s", e.CVE)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

// Is reports whether target is ErrInvalid.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Ransomware values of Entry.RansomwareUse, as CISA writes them.
const (
	RansomwareKnown   = "Known"
	RansomwareUnknown = "Unknown"
)

// Entry is one vulnerability of the catalog. Dates are civil dates at
// midnight UTC.
type Entry struct {
	CVE               string    `json:"cve"`
	VendorProject     string    `json:"vendor_project"`
	Product           string    `json:"product"`
	VulnerabilityName string    `json:"vulnerability_name"`
	DateAdded         time.Time `json:"date_added"`
	ShortDescription  string    `json:"short_description"`
	RequiredAction    string    `json:"required_action"`
	// DueDate is the date by which US federal agencies must act; zero
	// when the catalog gives none.
	DueDate time.Time `json:"due_date,omitzero"`
	// RansomwareUse is "Known" or "Unknown": whether CISA knows of the
	// vulnerability's use in ransomware campaigns.
	RansomwareUse string   `json:"known_ransomware_campaign_use"`
	Notes         string   `json:"notes,omitempty"`
	CWEs          []string `json:"cwes,omitempty"`
}

// KnownRansomware reports whether CISA knows of the vulnerability's use
// in ransomware campaigns.
func (e Entry) KnownRansomware() bool { return e.RansomwareUse == RansomwareKnown }

// Catalog is a loaded KEV catalog. Its methods may be called from several
// goroutines at once.
type Catalog struct {
	Title    string    // "CISA Catalog of Known Exploited Vulnerabilities"
	Version  string    // catalogVersion, "2026.01.29"
	Released time.Time // dateReleased
	entries  map[string]Entry
}

// Len returns the number of vulnerabilities in the catalog.
func (c *Catalog) Len() int { return len(c.entries) }

// Lookup returns the entry of a CVE id. The id is compared without case
// and surrounding space; ok is false when the CVE is not in the catalog.
func (c *Catalog) Lookup(cve string) (e Entry, ok bool) {
	e, ok = c.entries[strings.ToUpper(strings.TrimSpace(cve))]
	return e, ok
}

// CVEs returns every CVE id of the catalog, sorted.
func (c *Catalog) CVEs() []string {
	return slices.Sorted(maps.Keys(c.entries))
}

var (
	cveRE     = regexp.MustCompile(`^CVE-\d{4}-\d{4,}$`)
	versionRE = regexp.MustCompile(`^\d{4}\.\d{2}\.\d{2}$`)
)

// rawEntry is an entry as the catalog writes it.
type rawEntry struct {
	CVE               string   `json:"cveID"`
	VendorProject     string   `json:"vendorProject"`
	Product           string   `json:"product"`
	VulnerabilityName string   `json:"vulnerabilityName"`
	DateAdded         string   `json:"dateAdded"`
	ShortDescription  string   `json:"shortDescription"`
	RequiredAction    string   `json:"requiredAction"`
	DueDate           string   `json:"dueDate"`
	RansomwareUse     string   `json:"knownRansomwareCampaignUse"`
	Notes             string   `json:"notes"`
	CWEs              []string `json:"cwes"`
}

// Load reads a KEV catalog in CISA's JSON format
// (known_exploited_vulnerabilities.json) from r, one entry at a time, and
// validates it: catalogVersion is YYYY.MM.DD, dateReleased an RFC 3339
// time, count equals the number of entries, every cveID is a well-formed
// CVE id that appears once, every dateAdded (and dueDate, when present)
// a YYYY-MM-DD date, and knownRansomwareCampaignUse "Known" or "Unknown"
// when present. Unknown members are ignored. Any failure, including a
// truncated or corrupt file, returns an *Error matching ErrInvalid and no
// catalog.
func Load(r io.Reader) (*Catalog, error) {
	dec := jsontext.NewDecoder(r, jsontext.AllowDuplicateNames(true))
	fail := func(cve string, err error) (*Catalog, error) {
		return nil, &Error{Offset: dec.InputOffset(), CVE: cve, Err: err}
	}
	c := &Catalog{entries: map[string]Entry{}}
	var (
		version, released string
		count             = -1
		sawVulns          bool
	)
	tok, err := dec.ReadToken()
	if err != nil {
		return fail("", err)
	}
	if tok.Kind() != '{' {
		return fail("", fmt.Errorf("want a JSON object, found %v", tok.Kind()))
	}
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return fail("", err)
		}
		name := tok.String()
		switch name {
		case "title":
			err = json.UnmarshalDecode(dec, &c.Title)
		case "catalogVersion":
			err = json.UnmarshalDecode(dec, &version)
		case "dateReleased":
			err = json.UnmarshalDecode(dec, &released)
		case "count":
			err = json.UnmarshalDecode(dec, &count)
		case "vulnerabilities":
			sawVulns = true
			err = c.readEntries(dec)
		default:
			err = dec.SkipValue()
		}
		if err != nil {
			if e, ok := errors.AsType[*Error](err); ok {
				return nil, e
			}
			return fail("", fmt.Errorf("%s: %w", name, err))
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return fail("", err)
	}
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		if err == nil {
			err = errors.New("unexpected data after the catalog")
		}
		return fail("", err)
	}

	switch {
	case !versionRE.MatchString(version):
		return fail("", fmt.Errorf("catalogVersion %q is not YYYY.MM.DD", version))
	case !sawVulns:
		return fail("", errors.New("no vulnerabilities member"))
	case count < 0:
		return fail("", errors.New("no count member"))
	case count != len(c.entries):
		return fail("", fmt.Errorf("count is %d but the catalog lists %d vulnerabilities", count, len(c.entries)))
	}
	c.Version = version
	if c.Released, err = time.Parse(time.RFC3339Nano, released); err != nil {
		return fail("", fmt.Errorf("dateReleased %q: want an RFC 3339 time", released))
	}
	return c, nil
}

func (c *Catalog) readEntries(dec *jsontext.Decoder) error {
	tok, err := dec.ReadToken()
	if err != nil {
		return err
	}
	if tok.Kind() != '[' {
		return fmt.Errorf("want an array, found %v", tok.Kind())
	}
	for {
		switch dec.PeekKind() {
		case ']':
			_, err := dec.ReadToken()
			return err
		case 0:
			_, err := dec.ReadToken()
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		at := dec.InputOffset()
		var raw rawEntry
		if err := json.UnmarshalDecode(dec, &raw); err != nil {
			return err
		}
		e, err := raw.entry()
		if err != nil {
			return &Error{Offset: at, CVE: raw.CVE, Err: err}
		}
		if _, dup := c.entries[e.CVE]; dup {
			return &Error{Offset: at, CVE: raw.CVE, Err: errors.New("listed twice")}
		}
		c.entries[e.CVE] = e
	}
}

func (raw rawEntry) entry() (Entry, error) {
	if !cveRE.MatchString(raw.CVE) {
		return Entry{}, fmt.Errorf("cveID %q is not a CVE id", raw.CVE)
	}
	added, err := time.Parse(time.DateOnly, raw.DateAdded)
	if err != nil {
		return Entry{}, fmt.Errorf("dateAdded %q is not YYYY-MM-DD", raw.DateAdded)
	}
	var due time.Time
	if raw.DueDate != "" {
		if due, err = time.Parse(time.DateOnly, raw.DueDate); err != nil {
			return Entry{}, fmt.Errorf("dueDate %q is not YYYY-MM-DD", raw.DueDate)
		}
	}
	switch raw.RansomwareUse {
	case RansomwareKnown, RansomwareUnknown:
	case "":
		raw.RansomwareUse = RansomwareUnknown
	default:
		return Entry{}, fmt.Errorf("knownRansomwareCampaignUse %q is neither Known nor Unknown", raw.RansomwareUse)
	}
	return Entry{
		CVE:               raw.CVE,
		VendorProject:     raw.VendorProject,
		Product:           raw.Product,
		VulnerabilityName: raw.VulnerabilityName,
		DateAdded:         added,
		ShortDescription:  raw.ShortDescription,
		RequiredAction:    raw.RequiredAction,
		DueDate:           due,
		RansomwareUse:     raw.RansomwareUse,
		Notes:             raw.Notes,
		CWEs:              raw.CWEs,
	}, nil
}
