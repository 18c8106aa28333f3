package feeds

import (
	"bufio"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/ctem-dev/ctem/internal/intel/epss"
	"github.com/ctem-dev/ctem/internal/intel/kev"
)

// Meta is what the metadata file beside a stored copy records about it.
type Meta struct {
	Feed Feed `json:"feed"`
	// URL is the address the stored copy was downloaded from (the
	// primary or the mirror, before any redirect).
	URL          string `json:"url"`
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	// FetchedAt is when the stored copy was downloaded; CheckedAt when
	// the source last confirmed it, by a download or a 304 answer.
	FetchedAt time.Time `json:"fetched_at"`
	CheckedAt time.Time `json:"checked_at"`
	// Version is KEV's catalogVersion or EPSS's model_version.
	Version string `json:"version"`
	// DataDate is KEV's dateReleased or EPSS's score_date.
	DataDate time.Time `json:"data_date"`
	Count    int       `json:"count"`
	Size     int64     `json:"size"`
	SHA256   string    `json:"sha256"` // of the stored file, hex
}

// fileName is the stored copy of each feed, as the source serves it.
func fileName(f Feed) string {
	if f == EPSS {
		return "epss_scores.csv.gz"
	}
	return "known_exploited_vulnerabilities.json"
}

func metaName(f Feed) string { return string(f) + ".meta.json" }

// epssNotice is written beside the stored EPSS scores, as FIRST asks.
const (
	epssNoticeName = "epss_scores.NOTICE"
	epssNotice     = epss.Attribution + "\n\nepss_scores.csv.gz holds the Exploit Prediction Scoring System (EPSS)\nscores as published by FIRST, free to use with this attribution.\n"
)

// data is one loaded feed: exactly one of kev and epss is set.
type data struct {
	kev  *kev.Catalog
	epss *epss.Scores
}

func (d data) version() string {
	if d.kev != nil {
		return d.kev.Version
	}
	return d.epss.ModelVersion
}

func (d data) date() time.Time {
	if d.kev != nil {
		return d.kev.Released
	}
	return d.epss.Date
}

func (d data) count() int {
	if d.kev != nil {
		return d.kev.Len()
	}
	return d.epss.Len()
}

// Bounds on a feed file as loaded, whatever its origin (a download, the
// stored copy, a file put in the feeds folder by hand), so that memory
// stays bounded: the KEV catalogue is about 1.5 MB and the EPSS scores
// about 10 MB once decompressed, for some 300,000 CVEs; a gzip bomb in
// place of the EPSS file expands without end. The metadata file is a few
// hundred bytes.
const maxMetaBytes = 1 << 20

// maxKEVBytes and maxEPSSPlainBytes (decompressed) bound the two feeds;
// variables for the tests only.
var (
	maxKEVBytes       int64 = 64 << 20
	maxEPSSPlainBytes int64 = 128 << 20
)

// capReader fails with ErrTooLarge once more than max bytes come out of r.
type capReader struct {
	r    io.Reader
	n    int64
	max  int64
	what string
}

func (c *capReader) Read(p []byte) (int, error) {
	if int64(len(p)) > c.max-c.n+1 {
		p = p[:c.max-c.n+1]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.max {
		return n - int(c.n-c.max), fmt.Errorf("%w: %s larger than %d bytes", ErrTooLarge, c.what, c.max)
	}
	return n, err
}

// plainEPSS returns the EPSS file of r decompressed if it is gzip, within
// maxEPSSPlainBytes.
func plainEPSS(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, &epss.Error{Err: fmt.Errorf("gzip: %w", err)}
		}
		return &capReader{r: zr, max: maxEPSSPlainBytes, what: "EPSS file once decompressed"}, func() { zr.Close() }, nil
	}
	return &capReader{r: br, max: maxEPSSPlainBytes, what: "EPSS file"}, func() {}, nil
}

func load(f Feed, r io.Reader) (data, error) {
	if f == EPSS {
		plain, done, err := plainEPSS(r)
		if err != nil {
			return data{}, err
		}
		defer done()
		s, err := epss.Load(plain)
		return data{epss: s}, err
	}
	c, err := kev.Load(&capReader{r: r, max: maxKEVBytes, what: "KEV catalogue"})
	return data{kev: c}, err
}

func snapshot(f Feed) (data, error) {
	if f == EPSS {
		s, err := epss.Snapshot()
		return data{epss: s}, err
	}
	c, err := kev.Snapshot()
	return data{kev: c}, err
}

// stored is the stored copy of a feed as found in the directory.
type stored struct {
	data data
	// meta is the metadata, nil when it is missing, unreadable or does
	// not describe the stored file (its sha256 differs: the process
	// stopped between the two renames of an update, or two updates
	// raced).
	meta *Meta
}

// readStored loads the stored copy of f from root, validating it fully.
// It returns an error matching fs.ErrNotExist when there is none.
func readStored(root *os.Root, f Feed) (stored, error) {
	file, err := root.Open(fileName(f))
	if err != nil {
		return stored{}, err
	}
	defer file.Close()
	h := sha256.New()
	d, err := load(f, io.TeeReader(file, h))
	if err != nil {
		return stored{}, fmt.Errorf("stored %s copy %s: %w", f, fileName(f), err)
	}
	// Load may stop before the end (EPSS's buffered reader does not);
	// hash what it left.
	if _, err := io.Copy(h, file); err != nil {
		return stored{}, fmt.Errorf("read stored %s copy: %w", f, err)
	}
	s := stored{data: d}
	if m, err := readMeta(root, f); err == nil && m.SHA256 == hex.EncodeToString(h.Sum(nil)) {
		s.meta = m
	}
	return s, nil
}

func readMeta(root *os.Root, f Feed) (*Meta, error) {
	file, err := root.Open(metaName(f))
	if err != nil {
		return nil, err
	}
	defer file.Close()
	b, err := io.ReadAll(&capReader{r: file, max: maxMetaBytes, what: metaName(f)})
	if err != nil {
		return nil, err
	}
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", metaName(f), err)
	}
	return &m, nil
}

func writeMeta(root *os.Root, m *Meta) error {
	b, err := json.Marshal(m, json.Deterministic(true))
	if err != nil {
		return err
	}
	b = append(b, '\n')
	return writeFile(root, metaName(m.Feed), b)
}

// createTemp creates a new file in root whose name starts with a dot and
// the name it will replace, so that a leftover is recognisable.
func createTemp(root *os.Root, name string) (*os.File, string, error) {
	for range 10 {
		tmp := "." + name + ".tmp-" + rand.Text()[:12]
		f, err := root.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, tmp, err
	}
	return nil, "", fmt.Errorf("create a temporary file for %s: too many collisions", name)
}

// writeFile replaces name in root with b atomically: readers see the old
// file or the new one, never a part of it, even after a crash.
func writeFile(root *os.Root, name string, b []byte) error {
	f, tmp, err := createTemp(root, name)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = commit(root, tmp, name)
	}
	if err != nil {
		root.Remove(tmp)
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// commit renames the synced file tmp over name and syncs the directory so
// that the rename itself survives a crash.
func commit(root *os.Root, tmp, name string) error {
	if err := root.Rename(tmp, name); err != nil {
		return err
	}
	dir, err := root.Open(".")
	if err != nil {
		return err
	}
	defer dir.Close()
	// Some file systems refuse to sync a directory; the rename is done
	// either way.
	_ = dir.Sync()
	return nil
}
