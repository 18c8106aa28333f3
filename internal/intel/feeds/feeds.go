// Package feeds keeps the local copy of the threat-intelligence feeds ctem
// scores with (CISA's KEV catalog and FIRST's EPSS scores), refreshes it
// over HTTP, and falls back to the snapshots embedded in the binary.
package feeds

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Feed names one threat-intelligence feed.
type Feed string

// The feeds this package keeps.
const (
	KEV  Feed = "kev"  // CISA Known Exploited Vulnerabilities, JSON
	EPSS Feed = "epss" // FIRST Exploit Prediction Scoring System, CSV gzip
)

// Default download addresses.
//
// DefaultEPSSURL is the address FIRST's data page links to for the daily
// file. The scores are computed by Empirical Security for FIRST; the old
// host epss.cyentia.com answers with a 301 redirect to this one, and this
// address may itself redirect (302) to the dated file
// epss_scores-YYYY-MM-DD.csv.gz on the same host.
const (
	DefaultKEVURL  = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
	DefaultEPSSURL = "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz"
)

// Defaults applied by DefaultConfig and to zero fields of a Config.
const (
	DefaultKEVMaxBytes   = 64 << 20
	DefaultEPSSMaxBytes  = 128 << 20
	DefaultKEVMaxAge     = 7 * 24 * time.Hour
	DefaultEPSSMaxAge    = 3 * 24 * time.Hour
	DefaultTimeout       = 2 * time.Minute
	DefaultEPSSThreshold = 0.001
)

// Source says where one feed is downloaded from and how much of it is
// accepted.
type Source struct {
	// URL is the primary address, http or https. When URL and Mirror are
	// both empty Update skips the feed and never touches the network
	// for it.
	URL string
	// Mirror, when not empty, is tried when the primary fails for any
	// reason: a network error, an HTTP error, or a download that does
	// not validate.
	Mirror string
	// MaxBytes is the largest body accepted, counted after any
	// Content-Encoding is undone; zero means the feed's default (64 MiB
	// for KEV, 128 MiB for EPSS).
	MaxBytes int64
	// MaxAge is how long after the last successful check against the
	// source the local copy counts as stale; zero means the feed's
	// default (7 days for KEV, 3 days for EPSS).
	MaxAge time.Duration
}

// Config says where the feeds are kept and how they are refreshed. The
// zero value of every field but Dir and the URLs means its default.
type Config struct {
	// Dir is the directory holding the stored copies and their metadata.
	// Update creates it when missing; Load and Status use the embedded
	// snapshots when it is missing or empty.
	Dir string

	KEV  Source
	EPSS Source

	// Timeout bounds each download attempt (one URL, one feed) from the
	// request to the last byte of the body. Zero means DefaultTimeout.
	Timeout time.Duration

	// Offline forbids any network access: Update returns ErrOffline at
	// once, and Load and Status use the stored copies or the embedded
	// snapshots as always.
	Offline bool

	// Client sends the requests; nil means a client with
	// http.DefaultTransport. Update uses a copy of it whose redirect
	// policy refuses schemes other than http and https and any
	// downgrade from https to http, after the client's own
	// CheckRedirect, if any, is consulted.
	Client *http.Client

	// EPSSThreshold is the absolute change of an EPSS score, from 0 to
	// 1, above which Update reports the CVE as changed. Zero means
	// DefaultEPSSThreshold (0.001: a tenth of a percentage point, above
	// the day-to-day noise of the lowest-scored CVEs).
	EPSSThreshold float64

	// Now returns the current time; nil means time.Now. Tests inject a
	// clock here.
	Now func() time.Time

	// beforeRename, when set, runs after a download validated and
	// before it replaces the stored copy; an error aborts the update.
	// Tests use it to simulate a failure at the last moment.
	beforeRename func(Feed) error
}

// DefaultConfig returns the configuration that downloads both feeds from
// their official addresses into dir.
func DefaultConfig(dir string) Config {
	return Config{
		Dir:           dir,
		KEV:           Source{URL: DefaultKEVURL, MaxBytes: DefaultKEVMaxBytes, MaxAge: DefaultKEVMaxAge},
		EPSS:          Source{URL: DefaultEPSSURL, MaxBytes: DefaultEPSSMaxBytes, MaxAge: DefaultEPSSMaxAge},
		Timeout:       DefaultTimeout,
		EPSSThreshold: DefaultEPSSThreshold,
	}
}

// Feeds lists every feed, in the order Update, Load and Status report
// them.
var Feeds = []Feed{KEV, EPSS}

func (c *Config) source(f Feed) Source {
	s := c.KEV
	maxBytes, maxAge := int64(DefaultKEVMaxBytes), DefaultKEVMaxAge
	if f == EPSS {
		s = c.EPSS
		maxBytes, maxAge = DefaultEPSSMaxBytes, DefaultEPSSMaxAge
	}
	if s.MaxBytes <= 0 {
		s.MaxBytes = maxBytes
	}
	if s.MaxAge <= 0 {
		s.MaxAge = maxAge
	}
	return s
}

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now().UTC()
	}
	return time.Now().UTC()
}

func (c *Config) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

func (c *Config) threshold() float64 {
	if c.EPSSThreshold > 0 {
		return c.EPSSThreshold
	}
	return DefaultEPSSThreshold
}

// Errors that Update's errors match (errors.Is), inside a *FetchError.
var (
	// ErrOffline is returned by Update when Config.Offline is set.
	ErrOffline = errors.New("offline: feeds not updated")
	// ErrTooLarge means the body was longer than Source.MaxBytes.
	ErrTooLarge = errors.New("download exceeds the size limit")
	// ErrInvalid means the body did not load as a complete feed; the
	// error also matches kev.ErrInvalid or epss.ErrInvalid.
	ErrInvalid = errors.New("invalid download")
	// ErrOutdated means the body is a valid feed older than the copy in
	// use (a stale mirror or cache, or a rollback), so it was refused.
	ErrOutdated = errors.New("download is older than the copy in use")
	// ErrHTTP means the server answered with a status other than 200 or
	// 304.
	ErrHTTP = errors.New("unexpected HTTP status")
	// ErrURL means a feed or redirect address is not an absolute http or
	// https URL, or a redirect went from https to http.
	ErrURL = errors.New("refused URL")
)

// FetchError is the error of one download attempt: the feed, the address
// it was fetched from, and the cause. The stored copy is left as it was.
type FetchError struct {
	Feed Feed
	URL  string
	Err  error
}

func (e *FetchError) Error() string { return fmt.Sprintf("%s feed: %s: %v", e.Feed, e.URL, e.Err) }

// Unwrap returns the cause.
func (e *FetchError) Unwrap() error { return e.Err }
