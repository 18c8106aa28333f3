package feeds

import (
	"bufio"
	"bytes"
	"io"
	"math"
	"slices"

	"github.com/ctem-dev/ctem/internal/intel/epss"
	"github.com/ctem-dev/ctem/internal/intel/kev"
)

// KEVDiff is how a downloaded KEV catalog differs from the one in use
// before. Every list is sorted.
type KEVDiff struct {
	Added   []string `json:"added,omitempty"`   // CVEs new to the catalog
	Removed []string `json:"removed,omitempty"` // CVEs no longer in it (CISA rarely removes one)
	// Changed lists the CVEs in both whose entry differs in any field,
	// such as knownRansomwareCampaignUse turning Known.
	Changed []string `json:"changed,omitempty"`
}

// Empty reports whether the catalogs list the same entries.
func (d *KEVDiff) Empty() bool {
	return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Changed) == 0
}

func diffKEV(old, cur *kev.Catalog) *KEVDiff {
	d := &KEVDiff{}
	for _, cve := range cur.CVEs() {
		n, _ := cur.Lookup(cve)
		o, ok := old.Lookup(cve)
		switch {
		case !ok:
			d.Added = append(d.Added, cve)
		case !sameEntry(o, n):
			d.Changed = append(d.Changed, cve)
		}
	}
	for _, cve := range old.CVEs() {
		if _, ok := cur.Lookup(cve); !ok {
			d.Removed = append(d.Removed, cve)
		}
	}
	return d
}

func sameEntry(a, b kev.Entry) bool {
	return a.CVE == b.CVE && a.VendorProject == b.VendorProject && a.Product == b.Product &&
		a.VulnerabilityName == b.VulnerabilityName && a.DateAdded.Equal(b.DateAdded) &&
		a.ShortDescription == b.ShortDescription && a.RequiredAction == b.RequiredAction &&
		a.DueDate.Equal(b.DueDate) && a.RansomwareUse == b.RansomwareUse && a.Notes == b.Notes &&
		slices.Equal(a.CWEs, b.CWEs)
}

// ScoreChange is the EPSS score of a CVE before and after an update.
type ScoreChange struct {
	CVE string  `json:"cve"`
	Old float64 `json:"old"` // 0 when Added
	New float64 `json:"new"` // 0 when Removed
	// Added means the CVE had no score before; Removed that it has none
	// now (FIRST drops rejected CVEs).
	Added   bool `json:"added,omitempty"`
	Removed bool `json:"removed,omitempty"`
}

// EPSSDiff is how downloaded EPSS scores differ from the ones in use
// before: the CVEs to re-score.
type EPSSDiff struct {
	// Threshold is the absolute score change above which a CVE is
	// listed in Changed.
	Threshold float64 `json:"threshold"`
	// ModelChanged is true when the model version differs: every score
	// may have moved, and a caller may prefer to re-score everything.
	ModelChanged bool `json:"model_changed,omitempty"`
	// Changed lists, sorted by CVE, the CVEs added, removed, or whose
	// score moved by more than Threshold.
	Changed []ScoreChange `json:"changed,omitempty"`
	// RemovedUnnamed counts the CVEs scored before and absent now that
	// Changed cannot name: the scores in use were the embedded
	// snapshot, and package epss does not list the CVEs of a *Scores.
	RemovedUnnamed int `json:"removed_unnamed,omitempty"`
}

// diffEPSS compares old with cur. epss.Scores offers lookups but no
// listing, so the CVEs are read from the files: newFile is cur's file,
// oldCVEs the CVEs of old's file, nil when old is the embedded snapshot.
// Both files were validated by epss.Load, so the scan can be simple.
func diffEPSS(old *epss.Scores, oldCVEs []string, cur *epss.Scores, newFile io.Reader, threshold float64) (*EPSSDiff, error) {
	d := &EPSSDiff{Threshold: threshold, ModelChanged: old.ModelVersion != cur.ModelVersion}
	both := 0
	err := scanEPSSCVEs(newFile, func(cve string) {
		n, _ := cur.Lookup(cve)
		o, ok := old.Lookup(cve)
		switch {
		case !ok:
			d.Changed = append(d.Changed, ScoreChange{CVE: cve, New: n.EPSS, Added: true})
		case math.Abs(n.EPSS-o.EPSS) > threshold:
			both++
			d.Changed = append(d.Changed, ScoreChange{CVE: cve, Old: o.EPSS, New: n.EPSS})
		default:
			both++
		}
	})
	if err != nil {
		return nil, err
	}
	if oldCVEs == nil {
		d.RemovedUnnamed = old.Len() - both
	}
	for _, cve := range oldCVEs {
		if _, ok := cur.Lookup(cve); !ok {
			o, _ := old.Lookup(cve)
			d.Changed = append(d.Changed, ScoreChange{CVE: cve, Old: o.EPSS, Removed: true})
		}
	}
	slices.SortFunc(d.Changed, func(a, b ScoreChange) int { return compareCVE(a.CVE, b.CVE) })
	return d, nil
}

// compareCVE orders CVE ids by year, then number.
func compareCVE(a, b string) int {
	if len(a) != len(b) && len(a) > 9 && len(b) > 9 && a[:9] == b[:9] {
		return len(a) - len(b) // same year: a shorter number is smaller
	}
	return bytes.Compare([]byte(a), []byte(b))
}

// scanEPSSCVEs calls fn with the CVE id of every score line of an EPSS
// file (gzip or not) that epss.Load accepted.
func scanEPSSCVEs(r io.Reader, fn func(cve string)) error {
	plain, done, err := plainEPSS(r)
	if err != nil {
		return err
	}
	defer done()
	sc := bufio.NewScanner(plain)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte("CVE-")) {
			continue // comment or header
		}
		cve, _, _ := bytes.Cut(line, []byte{','})
		fn(string(cve))
	}
	return sc.Err()
}
