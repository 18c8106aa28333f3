package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/intel/feeds"
	"github.com/ctem-dev/ctem/internal/intel/score"
	"github.com/ctem-dev/ctem/internal/store"
)

// feedsConfig is the feeds' configuration: stored under the data
// directory (or $CTEM_FEEDS_DIR), URLs from $CTEM_KEV_URL, $CTEM_EPSS_URL
// and their mirrors $CTEM_KEV_MIRROR, $CTEM_EPSS_MIRROR, offline when
// $CTEM_OFFLINE is set.
func (e *env) feedsConfig() (feeds.Config, error) {
	dir := e.getenv("CTEM_FEEDS_DIR")
	if dir == "" {
		base, err := dataDir(e.getenv)
		if err != nil {
			return feeds.Config{}, usage(fmt.Errorf("no data directory for the feeds: %w (set CTEM_FEEDS_DIR)", err))
		}
		dir = filepath.Join(base, "ctem", "feeds")
	}
	cfg := feeds.DefaultConfig(dir)
	// "off" skips a feed.
	for _, f := range []struct {
		env string
		src *feeds.Source
	}{{"CTEM_KEV_URL", &cfg.KEV}, {"CTEM_EPSS_URL", &cfg.EPSS}} {
		switch u := e.getenv(f.env); u {
		case "":
		case "off":
			f.src.URL = ""
		default:
			f.src.URL = u
		}
	}
	cfg.KEV.Mirror = e.getenv("CTEM_KEV_MIRROR")
	cfg.EPSS.Mirror = e.getenv("CTEM_EPSS_MIRROR")
	cfg.Offline = e.getenv("CTEM_OFFLINE") != ""
	return cfg, nil
}

// loadIntel returns the threat intelligence in use: the feeds' stored
// copies when valid and newer, else the snapshots bundled in the binary;
// and the version of each, which every analysis records.
func (e *env) loadIntel() (app.Intel, error) {
	cfg, err := e.feedsConfig()
	if err != nil {
		return app.Intel{}, err
	}
	in, err := feeds.Load(cfg)
	if err != nil {
		return app.Intel{}, fmt.Errorf("load feeds: %w", err)
	}
	for _, p := range []feeds.Provenance{in.KEVFrom, in.EPSSFrom} {
		if p.Fallback != nil && !errors.Is(p.Fallback, feeds.ErrSnapshotNewer) {
			e.warnf("%s feed: stored copy not used (%v); using the bundled snapshot", p.Feed, p.Fallback)
		}
	}
	out := app.Intel{Intel: score.Intel{KEV: in.KEV, EPSS: in.EPSS}}
	if in.KEV != nil {
		out.Feeds = append(out.Feeds, store.FeedVersion{Feed: string(in.KEVFrom.Feed), Origin: string(in.KEVFrom.Origin), Version: in.KEV.Version, DataDate: in.KEV.Released})
	}
	if in.EPSS != nil {
		out.Feeds = append(out.Feeds, store.FeedVersion{Feed: string(in.EPSSFrom.Feed), Origin: string(in.EPSSFrom.Origin), Version: in.EPSS.ModelVersion, DataDate: in.EPSS.Date})
	}
	return out, nil
}

func newFeedsCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "feeds",
		Short: "The threat-intelligence feeds: CISA KEV and FIRST EPSS",
		Long: `ctem scores with CISA's Known Exploited Vulnerabilities catalog and FIRST's
EPSS scores. A snapshot of each is bundled in the binary; 'ctem feeds update'
downloads fresh copies (conditional GET, size limits, validation before an
atomic replace), 'ctem feeds status' shows their dates.

Environment: CTEM_FEEDS_DIR (where copies are kept), CTEM_KEV_URL,
CTEM_EPSS_URL ("off" skips the feed), CTEM_KEV_MIRROR, CTEM_EPSS_MIRROR,
CTEM_OFFLINE.

EPSS scores from FIRST, https://www.first.org/epss`,
	}
	var output string
	var noAnalyze bool
	status := &cobra.Command{
		Use:   "status",
		Short: "Show each feed's source, date and age, and warn when one is stale",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, outTable, outJSON); err != nil {
				return err
			}
			cfg, err := e.feedsConfig()
			if err != nil {
				return err
			}
			sts, err := feeds.Status(cfg)
			if err != nil {
				return err
			}
			if output == outJSON {
				out := make([]feedStatusJSON, len(sts))
				for i, s := range sts {
					out[i] = feedStatusJSON{Feed: string(s.Feed), Origin: string(s.Origin), Version: s.Version, Count: s.Count,
						DataDate: rfc3339(s.DataDate), URL: s.URL, FetchedAt: rfc3339(s.FetchedAt), CheckedAt: rfc3339(s.CheckedAt),
						AgeSeconds: int64(s.Age.Seconds()), MaxAgeSeconds: int64(s.MaxAge.Seconds()), Stale: s.Stale,
						Warning: s.Warning, Attribution: s.Attribution}
				}
				return writeJSON(e.stdout, out)
			}
			for _, s := range sts {
				stale := ""
				if s.Stale {
					stale = "  STALE"
				}
				fmt.Fprintf(e.stdout, "%-5s %-8s version %s, %d entries, data of %s, age %s%s\n", s.Feed, s.Origin, cell(s.Version, 0), s.Count,
					s.DataDate.Format("2006-01-02"), s.Age.Round(time.Hour), stale)
				if s.Warning != "" {
					fmt.Fprintf(e.stdout, "      %s\n", cell(s.Warning, 0))
				}
				if s.Attribution != "" {
					fmt.Fprintf(e.stdout, "      %s\n", cell(s.Attribution, 0))
				}
			}
			return nil
		},
	}
	status.Flags().StringVarP(&output, "output", "o", outTable, "output format: table or json")
	update := &cobra.Command{
		Use:   "update",
		Short: "Download fresh copies of the feeds; a bad download leaves the previous copy in use",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := e.feedsConfig()
			if err != nil {
				return err
			}
			results, err := feeds.Update(cmd.Context(), cfg)
			changed := changedCVEs(results)
			for _, r := range results {
				line := fmt.Sprintf("%s: %s", r.Feed, r.Outcome)
				switch {
				case r.KEV != nil:
					line += fmt.Sprintf(" (%d added, %d removed, %d changed)", len(r.KEV.Added), len(r.KEV.Removed), len(r.KEV.Changed))
				case r.EPSS != nil:
					line += fmt.Sprintf(" (%d scores changed)", len(r.EPSS.Changed))
				}
				if r.Err != nil {
					line += ": " + r.Err.Error()
				}
				fmt.Fprintln(e.stdout, oneLine(line))
			}
			if errors.Is(err, feeds.ErrOffline) {
				return usage(err)
			}
			if len(changed) > 0 && !noAnalyze {
				if rerr := e.reanalyzeForCVEs(cmd.Context(), changed); rerr != nil {
					return rerr
				}
			}
			if err != nil {
				return fmt.Errorf("feeds update: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
			}
			return nil
		},
	}
	update.Flags().BoolVar(&noAnalyze, "no-analyze", false, "do not re-run the attack-path analysis for the changed vulnerabilities")
	cmd.AddCommand(status, update)
	return cmd
}

// changedCVEs lists the vulnerabilities whose feed data an update
// changed.
func changedCVEs(results []feeds.Result) []string {
	var changed []string
	for _, r := range results {
		if r.KEV != nil {
			changed = append(changed, r.KEV.Added...)
			changed = append(changed, r.KEV.Removed...)
			changed = append(changed, r.KEV.Changed...)
		}
		if r.EPSS != nil {
			for _, c := range r.EPSS.Changed {
				changed = append(changed, c.CVE)
			}
		}
	}
	return changed
}

// reanalyzeForCVEs re-scores what a feed update changed: when the database
// holds an analysis, the connected components that hold an open exposure
// to one of the changed CVEs are re-analysed with the new data, and the
// paths that opened and closed are recorded. Everything else is left as
// it was; scores themselves are computed on demand from the feeds in use.
func (e *env) reanalyzeForCVEs(ctx context.Context, cves []string) error {
	a, err := e.newApp(ctx)
	if err != nil {
		return err
	}
	defer a.Store.Close()
	_, err = a.AfterFeedsUpdate(ctx, cves)
	return err
}

// feedStatusJSON is the JSON form of a feed's status, in the snake_case
// fields and RFC 3339 times of every other listing; times the feed does
// not have (a snapshot was never fetched) are absent.
type feedStatusJSON struct {
	Feed          string `json:"feed"`
	Origin        string `json:"origin"`
	Version       string `json:"version"`
	Count         int    `json:"count"`
	DataDate      string `json:"data_date,omitempty"`
	URL           string `json:"url,omitempty"`
	FetchedAt     string `json:"fetched_at,omitempty"`
	CheckedAt     string `json:"checked_at,omitempty"`
	AgeSeconds    int64  `json:"age_seconds"`
	MaxAgeSeconds int64  `json:"max_age_seconds"`
	Stale         bool   `json:"stale"`
	Warning       string `json:"warning,omitempty"`
	Attribution   string `json:"attribution,omitempty"`
}

// rfc3339 formats t in UTC as RFC 3339, "" for the zero time.
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
