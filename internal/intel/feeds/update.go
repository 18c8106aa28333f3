package feeds

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"
)

// Outcome is what Update did with one feed.
type Outcome string

// The outcomes of Update.
const (
	Updated     Outcome = "updated"      // a new copy was downloaded, validated and stored
	NotModified Outcome = "not-modified" // the source answered 304; the check time was recorded
	Skipped     Outcome = "skipped"      // the feed has no URL configured
	Failed      Outcome = "failed"       // every address failed; the previous copy stays in use
)

// Result is what Update did with one feed.
type Result struct {
	Feed    Feed
	Outcome Outcome
	// URL is the address that answered (primary or mirror), empty when
	// the update was skipped or failed.
	URL string
	// Meta describes the stored copy after the update; nil when the
	// feed was skipped or failed.
	Meta *Meta
	// From is where the data in use before the update came from.
	From Origin
	// KEV is set when a KEV catalog was downloaded.
	KEV *KEVDiff
	// EPSS is set when EPSS scores were downloaded.
	EPSS *EPSSDiff
	// Err is the error of a failed update: one *FetchError per address
	// tried, joined.
	Err error
}

// Update refreshes every feed of cfg that has a URL, independently and
// concurrently, and returns one Result per feed in the order of Feeds.
//
// For each feed it sends a conditional GET (If-None-Match and
// If-Modified-Since from the metadata of the stored copy, when the
// copy came from the same address) to the primary URL, then to the
// mirror if the primary fails. A 304 keeps the stored copy and records
// the check time. A 200 body is written to a temporary file in cfg.Dir
// while its size is limited and its SHA-256 computed, then fully loaded
// with kev.Load or epss.Load; a body that is too large, truncated,
// corrupt, or older than the data in use is refused with a *FetchError
// naming the feed and the address. Only a valid download replaces the
// stored copy: the temporary file is synced and renamed over it, then
// the metadata file is replaced the same way. Readers therefore see the
// old copy or the new one, never a part of either.
//
// The error is nil when no feed failed; otherwise it joins the errors of
// the failed feeds, which are also in their Results. When cfg.Offline is
// set Update returns ErrOffline and touches nothing.
func Update(ctx context.Context, cfg Config) ([]Result, error) {
	if cfg.Offline {
		return nil, ErrOffline
	}
	if cfg.Dir == "" {
		return nil, errors.New("feeds: no data directory")
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create feeds directory: %w", err)
	}
	root, err := os.OpenRoot(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("open feeds directory: %w", err)
	}
	defer root.Close()

	client := safeClient(cfg.Client)
	results := make([]Result, len(Feeds))
	var wg sync.WaitGroup
	for i, f := range Feeds {
		wg.Go(func() { results[i] = updateFeed(ctx, &cfg, root, client, f) })
	}
	wg.Wait()
	var errs []error
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return results, errors.Join(errs...)
}

// current is the data a feed uses before an update.
type current struct {
	data data
	meta *Meta // nil unless from is Stored and the metadata matches
	from Origin
}

func currentData(root *os.Root, f Feed) (current, error) {
	d, p, err := loadFeed(root, f)
	return current{data: d, meta: p.Meta, from: p.Origin}, err
}

func updateFeed(ctx context.Context, cfg *Config, root *os.Root, client *http.Client, f Feed) Result {
	src := cfg.source(f)
	var urls []string
	for _, u := range []string{src.URL, src.Mirror} {
		if u != "" {
			urls = append(urls, u)
		}
	}
	if len(urls) == 0 {
		return Result{Feed: f, Outcome: Skipped}
	}
	cur, err := currentData(root, f)
	if err != nil {
		return Result{Feed: f, Outcome: Failed, Err: fmt.Errorf("%s feed: %w", f, err)}
	}
	var errs []error
	for _, u := range urls {
		r, err := fetch(ctx, cfg, root, client, f, src, u, cur)
		if err == nil {
			r.From = cur.from
			return r
		}
		errs = append(errs, &FetchError{Feed: f, URL: u, Err: err})
		if ctx.Err() != nil {
			break // the caller gave up: do not try the mirror
		}
	}
	return Result{Feed: f, Outcome: Failed, From: cur.from, Err: errors.Join(errs...)}
}

// fetch downloads f from u once. Its errors are wrapped by the caller
// with the feed and the address.
func fetch(ctx context.Context, cfg *Config, root *os.Root, client *http.Client, f Feed, src Source, u string, cur current) (Result, error) {
	if err := checkURL(u); err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrURL, err)
	}
	// Validators are only meaningful to the server that issued them.
	if m := cur.meta; m != nil && m.URL == u {
		if m.ETag != "" {
			req.Header.Set("If-None-Match", m.ETag)
		}
		if m.LastModified != "" {
			req.Header.Set("If-Modified-Since", m.LastModified)
		}
	}
	req.Header.Set("User-Agent", "ctem-feeds")
	resp, err := client.Do(req)
	if err != nil {
		// The caller adds the address; keep the one of a redirect.
		if ue, ok := errors.AsType[*url.Error](err); ok && ue.URL == u {
			err = ue.Err
		}
		return Result{}, timedOut(ctx, cfg, err)
	}
	defer resp.Body.Close()

	now := cfg.now()
	switch {
	case resp.StatusCode == http.StatusNotModified:
		if req.Header.Get("If-None-Match") == "" && req.Header.Get("If-Modified-Since") == "" {
			return Result{}, fmt.Errorf("%w: 304 Not Modified to an unconditional request", ErrHTTP)
		}
		m := *cur.meta
		m.CheckedAt = now
		if err := writeMeta(root, &m); err != nil {
			return Result{}, err
		}
		return Result{Feed: f, Outcome: NotModified, URL: u, Meta: &m}, nil
	case resp.StatusCode != http.StatusOK:
		return Result{}, fmt.Errorf("%w: %s", ErrHTTP, resp.Status)
	case resp.ContentLength > src.MaxBytes:
		return Result{}, fmt.Errorf("%w: Content-Length %d > %d bytes", ErrTooLarge, resp.ContentLength, src.MaxBytes)
	}

	name := fileName(f)
	tmpFile, tmp, err := createTemp(root, name)
	if err != nil {
		return Result{}, err
	}
	committed := false
	defer func() {
		tmpFile.Close()
		if !committed {
			root.Remove(tmp)
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmpFile, h), io.LimitReader(resp.Body, src.MaxBytes+1))
	switch {
	case err != nil:
		return Result{}, fmt.Errorf("read body after %d bytes: %w", n, timedOut(ctx, cfg, err))
	case n > src.MaxBytes:
		return Result{}, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, src.MaxBytes)
	}
	if err := tmpFile.Sync(); err != nil {
		return Result{}, err
	}
	if _, err := tmpFile.Seek(0, io.SeekStart); err != nil {
		return Result{}, err
	}
	d, err := load(f, tmpFile)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if d.date().Before(cur.data.date()) {
		return Result{}, fmt.Errorf("%w: dated %s, the %s copy in use is dated %s",
			ErrOutdated, d.date().Format(time.RFC3339), cur.from, cur.data.date().Format(time.RFC3339))
	}

	res := Result{Feed: f, Outcome: Updated, URL: u}
	if f == KEV {
		res.KEV = diffKEV(cur.data.kev, d.kev)
	} else {
		if _, err := tmpFile.Seek(0, io.SeekStart); err != nil {
			return Result{}, err
		}
		var old []string
		if cur.from == Stored {
			if old, err = storedEPSSCVEs(root); err != nil {
				return Result{}, err
			}
		}
		if res.EPSS, err = diffEPSS(cur.data.epss, old, d.epss, tmpFile, cfg.threshold()); err != nil {
			return Result{}, err
		}
	}
	if err := tmpFile.Close(); err != nil {
		return Result{}, err
	}

	if cfg.beforeRename != nil {
		if err := cfg.beforeRename(f); err != nil {
			return Result{}, err
		}
	}
	if err := commit(root, tmp, name); err != nil {
		return Result{}, fmt.Errorf("replace the stored copy: %w", err)
	}
	committed = true
	m := &Meta{
		Feed:         f,
		URL:          u,
		ETag:         resp.Header.Get("ETag"),
		LastModified: resp.Header.Get("Last-Modified"),
		FetchedAt:    now,
		CheckedAt:    now,
		Version:      d.version(),
		DataDate:     d.date(),
		Count:        d.count(),
		Size:         n,
		SHA256:       hex.EncodeToString(h.Sum(nil)),
	}
	// The data is in place; a metadata file that fails to follow is
	// detected by its sha256 and ignored, which costs one unconditional
	// download next time.
	if err := writeMeta(root, m); err != nil {
		return Result{}, err
	}
	if f == EPSS {
		if err := writeFile(root, epssNoticeName, []byte(epssNotice)); err != nil {
			return Result{}, err
		}
	}
	res.Meta = m
	return res, nil
}

// timedOut says that the attempt's own timeout, rather than the caller,
// ended a request.
func timedOut(ctx context.Context, cfg *Config, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no complete answer within %s: %w", cfg.timeout(), err)
	}
	return err
}

func storedEPSSCVEs(root *os.Root) ([]string, error) {
	f, err := root.Open(fileName(EPSS))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var cves []string
	err = scanEPSSCVEs(f, func(cve string) { cves = append(cves, cve) })
	return cves, err
}

// checkURL accepts absolute http and https URLs with a host.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: %q is not an http or https URL", ErrURL, s)
	}
	return nil
}

// safeClient returns a copy of c (or of a default client) that follows
// at most 10 redirects, only to http and https URLs, never from https
// down to http.
func safeClient(c *http.Client) *http.Client {
	if c == nil {
		c = &http.Client{}
	}
	sc := *c
	sc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := checkURL(req.URL.String()); err != nil {
			return err
		}
		if via[len(via)-1].URL.Scheme == "https" && req.URL.Scheme != "https" {
			return fmt.Errorf("%w: redirect from https to %s", ErrURL, req.URL.Redacted())
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		if c.CheckRedirect != nil {
			return c.CheckRedirect(req, via)
		}
		return nil
	}
	return &sc
}
