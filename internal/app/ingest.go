package app

import (
	"context"
	"errors"
	"fmt"
	"github.com/ctem-dev/ctem/internal/inputs"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ctem-dev/ctem/internal/estate/k8s"
	"github.com/ctem-dev/ctem/internal/estate/terraform"
	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// Input is one input to ingest: a file or a folder on disk, or "-" for
// R, or any name with R set (an upload, an embedded file).
type Input struct {
	Name string
	// R, when not nil, is read instead of opening Name.
	R io.Reader
	// Target, when set, overrides IngestRequest.Target for this input.
	Target string
}

// IngestRequest is what to ingest and how.
type IngestRequest struct {
	Inputs []Input
	// Format, when not nil, is used instead of detecting each input's.
	Format *ingest.Format
	// Target names the scanned target for reports that do not name it.
	Target string
	// NoAnalyze skips the re-analysis that follows an ingest into a
	// database that holds an analysis.
	NoAnalyze bool
	// Progress, when set, is called as each input starts to be parsed;
	// the function it returns is called when it ends.
	Progress func(*ingest.Source) (stop func())
}

// IngestResult is what an ingest did.
type IngestResult struct {
	// Scans are the scans recorded, in input order.
	Scans []model.Scan
	// Assets are the asset keys the ingest touched, sorted.
	Assets []string
	// Reanalysis is the re-analysis that followed, nil when none ran.
	Reanalysis *AnalysisResult
}

// Ingest parses every input into the store in one transaction: on any
// error nothing is stored. Folders that hold no Terraform (.tf) file are
// replaced by the regular files below them, in name order, hidden ones
// skipped; a folder with .tf files is one Terraform configuration. When
// the database holds an analysis and NoAnalyze is false, the connected
// components holding the touched assets are re-analysed and the result
// recorded (see Reanalyze); a re-analysis that conflicts with newer
// results every time it runs is dropped with a warning, the ingest kept.
func (a *App) Ingest(ctx context.Context, req IngestRequest) (*IngestResult, error) {
	key, err := a.Store.SecretKey(ctx)
	if err != nil {
		return nil, err
	}
	inputs, err := expandDirs(req.Inputs)
	if err != nil {
		return nil, err
	}
	var res *IngestResult
	var names []string
	var since int64
	for attempt := 1; ; attempt++ {
		res, names, since, err = a.ingestTx(ctx, req, inputs, key)
		if err == nil || !store.Retryable(err) || attempt == ingestAttempts || !rewind(inputs) {
			break
		}
		// The database broke a deadlock with another ingest (one that
		// shares assets or exposures with this one) by aborting this
		// transaction, which left nothing: run it again.
		a.logf("ingest aborted by the database (%v); running it again (attempt %d of %d)", err, attempt+1, ingestAttempts)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(attempt*attempt) * 50 * time.Millisecond):
		}
	}
	if err != nil {
		return nil, err
	}
	// Only now is anything ingested: a failing input rolls back the ones
	// before it, so nothing is reported as ingested before the commit.
	for i, s := range res.Scans {
		a.logf("ingested %s: %s report on %s: %d findings (%d new, %d fixed, %d reopened)", names[i], s.Tool, s.Target, s.Findings, s.New, s.Fixed, s.Reopened)
	}
	a.warnDefaultCluster(res.Scans, names)
	if !req.NoAnalyze {
		res.Reanalysis, err = a.reanalyze(ctx, res.Assets, "the ingest", since)
		if errors.Is(err, ErrConflict) {
			// The ingest is committed; its re-analysis lost to analyses
			// of newer inputs every time it ran, and is dropped.
			a.warnf("re-analysis after the ingest dropped: %v", err)
			err = nil
		}
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// ingestAttempts is how often an ingest that the database aborted to
// break a deadlock (store.Retryable) is run in all.
const ingestAttempts = 5

// rewind makes every input readable again from its start, and reports
// whether it could: an input read from a file is opened again, one read
// from a reader must be able to seek.
func rewind(ins []Input) bool {
	for _, in := range ins {
		if in.R == nil {
			if in.Name == "-" {
				return false
			}
			continue
		}
		sk, ok := in.R.(io.Seeker)
		if !ok {
			return false
		}
		if _, err := sk.Seek(0, io.SeekStart); err != nil {
			return false
		}
	}
	return true
}

// ingestTx runs one attempt of an ingest: every input in one
// transaction, committed. It returns what was ingested, the input each
// scan came from, and the ingest sequence before the ingest's own (for
// the re-analysis, see reanalyze).
func (a *App) ingestTx(ctx context.Context, req IngestRequest, inputs []Input, key []byte) (*IngestResult, []string, int64, error) {
	// What was ingested before this ingest, for the re-analysis (see
	// reanalyze); a store that numbers scans at commit says it exactly
	// once committed (below).
	since, err := a.Store.IngestSeq(ctx)
	if err != nil {
		return nil, nil, 0, err
	}
	tx, err := a.Store.Begin(ctx)
	if err != nil {
		return nil, nil, 0, err
	}
	defer tx.Rollback()
	res := &IngestResult{}
	var names []string // the input each scan came from, as the user knows it
	for _, in := range inputs {
		target := req.Target
		if in.Target != "" {
			target = in.Target
		}
		scans, name, err := a.ingestOne(ctx, tx, req, ingest.Options{Target: target, SecretKey: key, Warnf: a.Warnf}, in)
		if err != nil {
			return nil, nil, 0, err
		}
		for _, sc := range scans {
			if err := clobbers(res.Scans, names, sc, name); err != nil {
				return nil, nil, 0, err
			}
		}
		res.Scans = append(res.Scans, scans...)
		for range scans {
			names = append(names, name)
		}
	}
	if t, ok := tx.(store.AssetTracker); ok {
		ids := make([]string, len(res.Scans))
		for i, s := range res.Scans {
			ids[i] = s.ID
		}
		if res.Assets, err = t.TouchedAssets(ctx, ids); err != nil {
			return nil, nil, 0, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, 0, err
	}
	// Ingests that commit in parallel are numbered in commit order: what
	// came before this one is what committed before it, not what had
	// when it began (an analysis of that would miss the ingests that
	// committed meanwhile, see record).
	if r, ok := tx.(store.SeqReporter); ok && r.FirstSeq() > 0 {
		since = r.FirstSeq() - 1
	}
	return res, names, since, nil
}

// ingestOne parses one input into tx and returns its scans and the name
// to report them under.
func (a *App) ingestOne(ctx context.Context, tx store.Tx, req IngestRequest, opts ingest.Options, in Input) ([]model.Scan, string, error) {
	if in.R == nil && in.Name != "-" {
		if st, err := os.Stat(in.Name); err == nil && st.IsDir() {
			// A folder left by expandDirs is Terraform source: its .tf files.
			if err := terraform.ParseDir(ctx, in.Name, opts, tx); err != nil {
				return nil, "", err
			}
			scans, err := tx.EndInput(ctx, in.Name, "")
			return scans, in.Name, err
		}
	}
	var src *ingest.Source
	var err error
	if in.R != nil && in.Name != "-" {
		src, err = ingest.NewSource(in.Name, in.R)
	} else {
		src, err = ingest.Open(in.Name, in.R)
	}
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, "", badInput(fmt.Errorf("%s: no such file", in.Name))
		}
		return nil, "", err
	}
	defer src.Close()
	var f ingest.Format
	if req.Format != nil {
		f = *req.Format
	} else {
		f, err = a.Formats.Detect(src.Sniff())
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", src.Name, err)
		}
	}
	stop := func() {}
	if req.Progress != nil {
		stop = req.Progress(src)
	}
	input := &ingest.Input{Name: src.Name, R: src.Reader(), Options: opts}
	if in.R == nil && in.Name != "-" {
		input.Path = in.Name
	}
	err = ParseSafely(ctx, f, input, tx)
	stop()
	if err != nil {
		if in.R == nil {
			err = ingest.WithPosition(err, in.Name)
		}
		return nil, "", err
	}
	scans, err := tx.EndInput(ctx, in.Name, src.Digest())
	return scans, src.Name, err
}

// ParseSafely runs a parser and turns a panic, which would be a bug in
// ctem, into an internal error naming the input, so that one bad report
// cannot take a server down. Fuzzing is what keeps this from happening.
func ParseSafely(ctx context.Context, f ingest.Format, in *ingest.Input, sink ingest.Sink) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: internal error in the %s parser: %v", in.Name, f.Name, r)
		}
	}()
	return f.Parse(ctx, in, sink)
}

// expandDirs replaces each folder input that holds no Terraform (.tf)
// file by the regular files below it, in name order, skipping hidden
// files and folders. A folder with .tf files stays, to be read as one
// Terraform configuration.
func expandDirs(ins []Input) ([]Input, error) {
	var out []Input
	for _, in := range ins {
		st, err := os.Stat(in.Name)
		if in.R != nil || in.Name == "-" || err != nil || !st.IsDir() {
			out = append(out, in)
			continue
		}
		if inputs.HasTerraform(in.Name) {
			out = append(out, in)
			continue
		}
		var files []string
		err = filepath.WalkDir(in.Name, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if strings.HasPrefix(d.Name(), ".") && p != in.Name {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, badInput(fmt.Errorf("%s: %w", in.Name, err))
		}
		if len(files) == 0 {
			return nil, badInput(fmt.Errorf("%s: no files to ingest", in.Name))
		}
		slices.Sort(files)
		for _, f := range files {
			out = append(out, Input{Name: f, Target: in.Target})
		}
	}
	return out, nil
}

// warnDefaultCluster warns once when Kubernetes manifests were read
// without a target: their objects land in the cluster "default", whose
// keys (k8s:default/...) no scope written for a named cluster matches.
func (a *App) warnDefaultCluster(scans []model.Scan, names []string) {
	var files []string
	for i, s := range scans {
		if s.Tool == k8s.Tool && s.Target == k8sDefaultCluster {
			files = append(files, names[i])
		}
	}
	if len(files) == 0 {
		return
	}
	a.warnf("%s: Kubernetes objects ingested without --target land in the cluster %q (keys k8s:%s/NAMESPACE/KIND/NAME), which no scope selector for a named cluster matches; ingest again with --target CLUSTER to name it", strings.Join(files, ", "), k8sDefaultCluster, k8sDefaultCluster)
}

// k8sDefaultCluster is the cluster of manifests read without a target.
const k8sDefaultCluster = "default"

// clobbers returns a BadInputError when scan sc of input name marks as
// fixed findings of an earlier scan of the same ingest with the same tool
// and target: two reports given one --target (or naming one target) in
// one ingest, the later silently closing what the earlier found.
func clobbers(earlier []model.Scan, names []string, sc model.Scan, name string) error {
	if sc.Fixed == 0 {
		return nil
	}
	for i, e := range earlier {
		if e.Tool == sc.Tool && e.Target == sc.Target {
			return badInput(fmt.Errorf("%s and %s are both %s reports on %s: the later would mark %d findings of the earlier fixed; ingest them separately, each with its own --target (nothing was stored)",
				names[i], name, sc.Tool, sc.Target, sc.Fixed))
		}
	}
	return nil
}
