package cli

import (
	"errors"
	"iter"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/export"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

func newExportCmd(e *env) *cobra.Command {
	var ff filterFlags
	var format, author string
	var paths bool
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write exposures (and attack paths) as SARIF, CycloneDX VEX, OpenVEX, OCSF or CSV",
		Long: `Export writes the exposures the filters select in a format other tools read:

  sarif          SARIF 2.1.0 for code scanning (GitHub, GitLab): a rule per weakness,
                 a result per exposure, and a result per attack path whose code flow
                 walks its steps
  cyclonedx-vex  CycloneDX 1.6 VEX: the exposures on packages, with their status as
                 the impact analysis state
  openvex        OpenVEX 0.2.0: a statement per exposure
  ocsf           OCSF 1.3 events, one JSON object per line: Vulnerability Finding
                 (2002) per exposure, Detection Finding (2004) per attack path
  csv            one row per exposure, safe to open in a spreadsheet

Attack paths are written by sarif and ocsf when the database has been analysed
('ctem analyze'); --paths=false leaves them out.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			ff.output = outTable
			f, err := ff.filter()
			if err != nil {
				return err
			}
			w, err := export.New(format, e.stdout)
			if err != nil {
				return usage(err)
			}
			st, err := e.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			facts, err := store.LoadEvidence(ctx, st)
			if err != nil {
				return err
			}
			info := export.Info{Tool: "ctem", Version: Version, Time: time.Now().UTC(), Author: author}
			if len(f.Assets) == 1 && !strings.HasSuffix(f.Assets[0], "*") {
				info.Subject = f.Assets[0]
			}
			exposures := func(yield func(export.Exposure, error) bool) {
				for x, err := range st.Exposures(ctx, f) {
					if err != nil {
						yield(export.Exposure{}, err)
						return
					}
					if !yield(export.Exposure{Exposure: x, Evidence: facts.Match(x)}, nil) {
						return
					}
				}
			}
			var ps iter.Seq2[export.Path, error]
			if paths && export.TakesPaths(format) {
				_, ok, err := st.LatestAnalysis(ctx)
				if err != nil {
					return err
				}
				if ok {
					if ps, err = e.exportPaths(cmd, st, f); err != nil {
						return err
					}
				} else {
					e.logf("no attack paths: the database has not been analysed (run 'ctem analyze')")
				}
			}
			return export.Run(ctx, w, info, exposures, ps)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "export format: "+strings.Join(export.Formats, ", "))
	_ = cmd.MarkFlagRequired("format")
	cmd.Flags().StringVar(&author, "author", "ctem", "author of VEX statements")
	cmd.Flags().BoolVar(&paths, "paths", true, "include attack paths (sarif and ocsf)")
	cmd.Flags().StringSliceVar(&ff.severities, "severity", nil, "severities to export (critical,high,medium,low,info,unknown); repeat or separate by commas")
	cmd.Flags().StringSliceVar(&ff.tools, "tool", nil, "only exposures these tools report")
	cmd.Flags().StringSliceVar(&ff.assets, "asset", nil, "only these asset keys (a trailing * matches a prefix); paths through them")
	cmd.Flags().StringSliceVar(&ff.statuses, "status", nil, "only these statuses (open, fixed, accepted, not_affected, false_positive)")
	cmd.Flags().StringSliceVar(&ff.cves, "cve", nil, "only these vulnerability ids (CVE, GHSA, GO- or any alias)")
	cmd.Flags().StringSliceVar(&ff.kinds, "kind", nil, "only these finding kinds")
	cmd.Flags().IntVar(&ff.limit, "limit", 0, "export at most this many exposures (0: all)")
	return cmd
}

// exportPaths returns the attack paths of the latest analysis (those
// through an asset of the filter, when it names assets), each with the
// exposures its steps name, read through the application layer.
func (e *env) exportPaths(cmd *cobra.Command, st app.Store, f store.Filter) (iter.Seq2[export.Path, error], error) {
	ctx := cmd.Context()
	a, err := e.appOver(ctx, st)
	if err != nil {
		return nil, err
	}
	pl, err := a.Paths(ctx, app.PathQuery{})
	if err != nil {
		return nil, err
	}
	e.noteView(pl.View)
	return func(yield func(export.Path, error) bool) {
		for _, p := range pl.Paths {
			if len(f.Assets) > 0 && !pathTouches(p, f) {
				continue
			}
			xs := map[string]model.Exposure{}
			for _, s := range p.Steps {
				for _, id := range s.ExposureIDs {
					if _, ok := xs[id]; ok {
						continue
					}
					x, err := st.Exposure(ctx, id)
					if err != nil {
						if errors.Is(err, store.ErrNotFound) {
							continue
						}
						yield(export.Path{}, err)
						return
					}
					xs[id] = x
				}
			}
			if !yield(export.Path{Path: p, Exposures: xs}, nil) {
				return
			}
		}
	}, nil
}

// pathTouches reports whether a path enters, crosses or ends at an asset
// the filter names.
func pathTouches(p graph.Path, f store.Filter) bool {
	keys := []string{p.Jewel}
	if _, a, ok := strings.Cut(p.Entry, ":"); ok {
		keys = append(keys, a)
	}
	for _, s := range p.Steps {
		keys = append(keys, s.Asset)
	}
	for _, k := range keys {
		if k != "" && (store.Filter{Assets: f.Assets}).MatchAsset(model.Asset{Key: k}) {
			return true
		}
	}
	return false
}
