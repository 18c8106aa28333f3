package feeds

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/ctem-dev/ctem/internal/intel/epss"
	"github.com/ctem-dev/ctem/internal/intel/kev"
)

// Origin says where the data of a feed in use came from.
type Origin string

// The origins of feed data.
const (
	Stored   Origin = "stored"   // the copy in Config.Dir
	Embedded Origin = "embedded" // the snapshot built into the binary
)

// Provenance is where the data of one feed in use came from.
type Provenance struct {
	Feed   Feed
	Origin Origin
	// Meta describes the stored copy; nil when Origin is Embedded or
	// the metadata file is missing or does not match the stored file.
	Meta *Meta
	// Fallback says why a stored copy that exists was not used: it
	// did not load (the error), or the embedded snapshot is newer.
	// Nil when the stored copy was used or there was none.
	Fallback error
}

// Intel is the threat intelligence in use: the KEV catalog and the EPSS
// scores, and where each came from.
type Intel struct {
	KEV      *kev.Catalog
	EPSS     *epss.Scores
	KEVFrom  Provenance
	EPSSFrom Provenance
}

// ErrSnapshotNewer is the Provenance.Fallback of a stored copy older
// than the snapshot embedded in the binary.
var ErrSnapshotNewer = errors.New("the embedded snapshot is newer than the stored copy")

// Load returns the KEV catalog and EPSS scores to use: for each feed, the
// stored copy in cfg.Dir when it loads as a complete, valid feed and is
// not older than the embedded snapshot, else the embedded snapshot
// (kev.Snapshot, epss.Snapshot). A missing or corrupt stored copy is not
// an error: it is reported in Provenance.Fallback. Load never uses the
// network. The error is non-nil only when an embedded snapshot fails to
// load, which means a broken build.
func Load(cfg Config) (*Intel, error) {
	var root *os.Root
	if cfg.Dir != "" {
		if r, err := os.OpenRoot(cfg.Dir); err == nil {
			root = r
			defer r.Close()
		}
	}
	in := &Intel{}
	for _, f := range Feeds {
		d, p, err := loadFeed(root, f)
		if err != nil {
			return nil, err
		}
		if f == KEV {
			in.KEV, in.KEVFrom = d.kev, p
		} else {
			in.EPSS, in.EPSSFrom = d.epss, p
		}
	}
	return in, nil
}

func loadFeed(root *os.Root, f Feed) (data, Provenance, error) {
	p := Provenance{Feed: f, Origin: Embedded}
	var s stored
	var err error = fs.ErrNotExist
	if root != nil {
		s, err = readStored(root, f)
	}
	snap, serr := snapshot(f)
	switch {
	case err == nil && (serr != nil || !snap.date().After(s.data.date())):
		p.Origin, p.Meta = Stored, s.meta
		return s.data, p, nil
	case err == nil:
		p.Fallback = fmt.Errorf("%w: stored %s, embedded %s", ErrSnapshotNewer,
			s.data.date().Format(time.DateOnly), snap.date().Format(time.DateOnly))
	case !errors.Is(err, fs.ErrNotExist):
		p.Fallback = err
	}
	if serr != nil {
		return data{}, p, serr
	}
	return snap, p, nil
}

// FeedStatus is the state of one feed, for `ctem feeds status`.
type FeedStatus struct {
	Feed   Feed
	Origin Origin
	// Version is KEV's catalogVersion or EPSS's model_version; Count
	// the number of CVEs.
	Version string
	Count   int
	// DataDate is KEV's dateReleased or EPSS's score_date.
	DataDate time.Time
	// URL, FetchedAt and CheckedAt come from the metadata of the stored
	// copy; they are empty and zero for the embedded snapshot.
	URL       string
	FetchedAt time.Time
	CheckedAt time.Time
	// Age is the time since the data was last confirmed current: since
	// CheckedAt for a stored copy, since DataDate for the embedded
	// snapshot. Stale is Age > the feed's MaxAge, and then Warning says
	// so in a sentence; Warning also explains a fallback from a stored
	// copy to the snapshot.
	Age     time.Duration
	MaxAge  time.Duration
	Stale   bool
	Warning string
	// Attribution is the notice the source asks users to show with its
	// data; for EPSS "EPSS scores from FIRST, https://www.first.org/epss".
	Attribution string
}

// Status returns the state of every feed, in the order of Feeds, at
// cfg.Now. Like Load it reads cfg.Dir only and never uses the network.
func Status(cfg Config) ([]FeedStatus, error) {
	in, err := Load(cfg)
	if err != nil {
		return nil, err
	}
	now := cfg.now()
	var out []FeedStatus
	for _, f := range Feeds {
		p, d := in.KEVFrom, data{kev: in.KEV}
		if f == EPSS {
			p, d = in.EPSSFrom, data{epss: in.EPSS}
		}
		st := FeedStatus{
			Feed:     f,
			Origin:   p.Origin,
			Version:  d.version(),
			Count:    d.count(),
			DataDate: d.date(),
			MaxAge:   cfg.source(f).MaxAge,
		}
		since := st.DataDate
		if m := p.Meta; m != nil {
			st.URL, st.FetchedAt, st.CheckedAt = m.URL, m.FetchedAt, m.CheckedAt
			if m.CheckedAt.After(since) {
				since = m.CheckedAt
			}
		}
		st.Age = max(now.Sub(since), 0)
		st.Stale = st.Age > st.MaxAge
		var warn []string
		if p.Fallback != nil {
			warn = append(warn, fmt.Sprintf("stored copy not used (%v); using the embedded snapshot.", p.Fallback))
		}
		if st.Stale {
			what := "the stored copy was last checked"
			if p.Origin == Embedded {
				what = "the embedded snapshot is dated"
			}
			warn = append(warn, fmt.Sprintf("%s data is stale: %s %s ago, more than %s; run `ctem feeds update`.",
				f, what, roundAge(st.Age), roundAge(st.MaxAge)))
		}
		st.Warning = strings.Join(warn, " ")
		if f == EPSS {
			st.Attribution = epss.Attribution
		}
		out = append(out, st)
	}
	return out, nil
}

// roundAge writes a duration as days and hours ("3d4h"), or as hours and
// minutes under a day.
func roundAge(d time.Duration) string {
	if d < 24*time.Hour {
		return d.Round(time.Minute).String()
	}
	d = d.Round(time.Hour)
	days, hours := d/(24*time.Hour), d%(24*time.Hour)/time.Hour
	if hours == 0 {
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd%dh", days, hours)
}
