package server

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path"
	"strings"
	"time"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// uploadTypes are the content types an ingest accepts: the formats ctem
// reads, as JSON, XML or text. Form encodings are refused: a browser may
// send them cross-site without asking.
var uploadTypes = map[string]bool{
	"application/json": true, "application/x-ndjson": true, "application/sarif+json": true,
	"application/vnd.cyclonedx+json": true, "application/spdx+json": true, "application/xml": true,
	"text/xml": true, "application/yaml": true, "application/x-yaml": true, "text/yaml": true,
	"application/octet-stream": true, "application/gzip": true,
}

// ingestParams are an ingest job's parameters.
type ingestParams struct {
	Name   string `json:"name"`
	Target string `json:"target,omitempty"`
	Size   int64  `json:"size"`
	// Scan is the (tool, target) of the upload's first scan, read
	// ahead at upload (app.FirstScanKey); zero when it could not be.
	Scan store.ScanKey `json:"scan,omitzero"`
}

// IngestResult is the result of a finished ingest job.
type IngestResult struct {
	// Scans are the scans recorded, as 'ctem scans -o json' shows them.
	Scans  []model.Scan `json:"scans"`
	Assets int          `json:"assets"`
	// Analysis is the id of the re-analysis that followed, 0 for none.
	Analysis int64 `json:"analysis,omitempty"`
}

// ingest accepts an upload: it streams the body (gunzipped when its
// Content-Encoding is gzip or it starts with gzip's magic bytes) into a
// spool file under the size limits, checks that ctem knows its format,
// and queues a job that ingests it. It answers 202 with the job. What
// fails before the job is queued is answered at once and leaves nothing.
func (s *Server) ingest(w http.ResponseWriter, r *http.Request) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !uploadTypes[mt] {
		return errStatus(http.StatusUnsupportedMediaType, "an upload is a report as sent by its tool (JSON, XML, YAML or gzip), not %q", r.Header.Get("Content-Type"))
	}
	// A large upload may take long: the server's read timeout is for
	// ordinary requests.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(30 * time.Minute))
	body := http.MaxBytesReader(w, r.Body, s.limits.MaxUpload)
	q := r.URL.Query()
	name := path.Base(strings.ReplaceAll(q.Get("name"), `\`, "/"))
	if name == "." || name == "/" || name == "" {
		name = "upload"
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	job := store.Job{ID: hex.EncodeToString(id[:]), Kind: "ingest", CreatedBy: principal(r.Context()).String(), CreatedAt: s.now()}
	size, key, err := s.spoolUpload(r.Context(), job.ID, body, r.Header.Get("Content-Encoding"), q.Get("target"))
	if err != nil {
		os.Remove(s.spoolPath(job.ID))
		return err
	}
	params, _ := json.Marshal(ingestParams{Name: name, Target: q.Get("target"), Size: size, Scan: key})
	job.Params = params
	// Ingests of one (tool, target) run in upload order, one at a
	// time; of different ones, at once where the store allows it.
	job.Lane = key.Lane()
	if job.Lane == "" {
		job.Lane = "*"
	}
	ctx := s.withAudit(r, store.AuditJob, "ingest", func(any) (string, string) {
		return job.ID, fmt.Sprintf("queued %q, %d bytes, target %q", name, size, q.Get("target"))
	})
	if err := s.st.EnqueueJob(ctx, job); err != nil {
		os.Remove(s.spoolPath(job.ID))
		return err
	}
	s.metrics.ingests.WithLabelValues("queued").Inc()
	s.poke()
	w.Header().Set("Location", "/api/v1/jobs/"+job.ID)
	j, err := s.st.Job(r.Context(), job.ID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, j)
}

// spoolUpload writes the decompressed body to the job's spool file and
// checks its format; it returns the decompressed size and the (tool,
// target) of its first scan (see app.FirstScanKey), target being the
// upload's parameter.
func (s *Server) spoolUpload(ctx context.Context, id string, body io.Reader, encoding, target string) (int64, store.ScanKey, error) {
	br := bufio.NewReaderSize(body, 64<<10)
	var in io.Reader = br
	magic, _ := br.Peek(2)
	switch enc := strings.ToLower(strings.TrimSpace(encoding)); {
	case enc == "gzip" || (len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return 0, store.ScanKey{}, errStatus(http.StatusBadRequest, "the body is not gzip: %s", safeText(err.Error()))
		}
		defer zr.Close()
		in = zr
	case enc != "" && enc != "identity":
		return 0, store.ScanKey{}, errStatus(http.StatusUnsupportedMediaType, "unknown Content-Encoding %q (want gzip or none)", encoding)
	}
	f, err := os.OpenFile(s.spoolPath(id), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, store.ScanKey{}, err
	}
	n, err := io.Copy(f, io.LimitReader(in, s.limits.MaxInput+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return 0, store.ScanKey{}, err
	case err != nil && (errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF)):
		return 0, store.ScanKey{}, errStatus(http.StatusBadRequest, "the gzip stream is damaged or cut short: %s", safeText(err.Error()))
	case err != nil:
		return 0, store.ScanKey{}, err
	case n > s.limits.MaxInput:
		return 0, store.ScanKey{}, errStatus(http.StatusRequestEntityTooLarge, "the upload is larger than %d bytes once decompressed", s.limits.MaxInput)
	case n == 0:
		return 0, store.ScanKey{}, errStatus(http.StatusBadRequest, "the body is empty")
	}
	// The format must be one ctem reads: detected as the ingest will.
	sf, err := os.Open(s.spoolPath(id))
	if err != nil {
		return 0, store.ScanKey{}, err
	}
	defer sf.Close()
	src, err := ingest.NewSource("upload", sf)
	if err != nil {
		return 0, store.ScanKey{}, err
	}
	defer src.Close()
	format, err := s.app.Formats.Detect(src.Sniff())
	if err != nil {
		return 0, store.ScanKey{}, &httpError{Status: http.StatusUnsupportedMediaType, Detail: safeText(err.Error())}
	}
	key := app.FirstScanKey(ctx, format, "upload", src.Reader(), ingest.Options{Target: target, SecretKey: []byte("read ahead")})
	return n, key, nil
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) error {
	j, err := s.st.Job(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	p := principal(r.Context())
	// An uploader, or a principal limited to a team, sees its own jobs
	// only; others who read see every job.
	if (p.Role == RoleUploader || p.Team != "") && j.CreatedBy != p.String() {
		return fmt.Errorf("no job %q: %w", j.ID, store.ErrNotFound)
	}
	return writeJSON(w, http.StatusOK, j)
}

// poke wakes the worker.
func (s *Server) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// work runs queued jobs one at a time (SQLite has one writer) until ctx
// is done or the server drains.
func (s *Server) work(ctx context.Context) {
	defer close(s.workerDone)
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		s.mu.Lock()
		draining := s.draining
		s.mu.Unlock()
		if draining || ctx.Err() != nil {
			return
		}
		j, ok, err := s.st.ClaimJobOf(ctx, s.now(), workerKinds...)
		if err != nil && ctx.Err() == nil {
			s.log.Error("claim job", "err", err)
		}
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-s.wake:
			case <-t.C:
			}
			continue
		}
		if j.Kind == jobIngest {
			s.runJob(ctx, j)
		} else {
			s.runScheduled(ctx, j)
		}
	}
}

// runJob runs one ingest job and records its end. A job cancelled by a
// shutdown is left running: the next start queues it again (its ingest
// rolled back, so nothing of it is stored).
func (s *Server) runJob(ctx context.Context, j store.Job) {
	log := s.log.With("job", j.ID)
	var p ingestParams
	if err := json.Unmarshal(j.Params, &p); err != nil {
		s.finish(j, nil, fmt.Errorf("bad job parameters: %w", err))
		return
	}
	f, err := os.Open(s.spoolPath(j.ID))
	if err != nil {
		s.finish(j, nil, fmt.Errorf("the upload is gone: %w", err))
		return
	}
	start := time.Now()
	// The ingest's own transaction records it in the audit log, as the
	// principal that uploaded it.
	actx := store.WithAudit(ctx, store.AuditIngest, func(any) []store.AuditEntry {
		return []store.AuditEntry{{At: s.now(), Actor: j.CreatedBy, Action: "ingest.commit", Target: j.ID, Outcome: "ok",
			Detail: fmt.Sprintf("input %q, %d bytes, target %q", p.Name, p.Size, p.Target)}}
	})
	// The ingest takes the lock of its (tool, target) first, before
	// anything else it locks (see sqlstore's parallel ingests).
	actx = store.WithScanKeys(actx, p.Scan)
	res, err := s.app.Ingest(actx, app.IngestRequest{Inputs: []app.Input{{Name: p.Name, R: f, Target: p.Target}}, Target: p.Target})
	f.Close()
	s.shared.bump() // before the job's end is visible: reads that follow it see the ingest
	if ctx.Err() != nil {
		log.Warn("ingest interrupted by shutdown; queued again at the next start")
		return
	}
	s.metrics.ingestSeconds.Observe(time.Since(start).Seconds())
	var out *IngestResult
	if res != nil {
		out = &IngestResult{Scans: []model.Scan{}, Assets: len(res.Assets)}
		n := 0
		for _, sc := range res.Scans {
			out.Scans = append(out.Scans, sc)
			n += sc.Findings
		}
		s.metrics.findings.Add(float64(n))
		if d := time.Since(start).Seconds(); d > 0 {
			s.metrics.findingsRate.Set(float64(n) / d)
		}
		if res.Reanalysis != nil {
			s.observeAnalysis(ctx, res.Reanalysis, "ingest")
			out.Analysis = res.Reanalysis.Analysis.ID
		}
	}
	s.finish(j, out, err)
	if err == nil && res != nil && res.Reanalysis != nil {
		s.pumpOutbox(context.WithoutCancel(ctx))
		s.notifyAfter(context.WithoutCancel(ctx), res.Reanalysis.Analysis.ID)
	}
	if err == nil {
		log.Info("ingested", "input", p.Name, "scans", len(out.Scans), "seconds", time.Since(start).Seconds())
	}
}

func (s *Server) finish(j store.Job, res *IngestResult, err error) {
	state, msg := store.JobSucceeded, ""
	var raw json.RawMessage
	if err != nil {
		state = store.JobFailed
		if app.IsBadInput(err) {
			msg = safeText(err.Error())
		} else {
			msg = "internal error (see the server's log)"
		}
		s.log.Warn("job failed", "job", j.ID, "err", err)
		res = nil
	}
	if res != nil {
		raw, _ = json.Marshal(res)
	}
	s.metrics.ingests.WithLabelValues(state).Inc()
	if ferr := s.st.FinishJob(context.Background(), j.ID, state, raw, msg, s.now()); ferr != nil {
		s.log.Error("record job end", "job", j.ID, "err", ferr)
		return
	}
	os.Remove(s.spoolPath(j.ID))
}

// expireAcceptances reopens the exposures whose acceptance expired, as
// 'ctem triage expire' does, and audits each change; it returns how many
// it reopened.
func (s *Server) expireAcceptances(ctx context.Context, now time.Time) (int, error) {
	ctx = store.WithAudit(ctx, store.AuditExpire, func(res any) []store.AuditEntry {
		changes, _ := res.([]store.StatusChange)
		var out []store.AuditEntry
		for _, c := range changes {
			out = append(out, store.AuditEntry{At: now, Actor: store.Actor, Action: "triage.expire", Target: c.ExposureID, Outcome: "ok", Detail: fmt.Sprintf("%s -> %s: %s", c.From, c.To, c.Reason)})
		}
		return out
	})
	changes, err := s.st.ExpireAcceptances(ctx, now)
	if err != nil {
		return 0, err
	}
	if len(changes) > 0 {
		s.log.Info("expired acceptances reopened", "exposures", len(changes))
	}
	return len(changes), nil
}
