package cli

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// remote is a ctem server that ingests uploads.
type remote struct {
	base   *url.URL
	token  string
	client *http.Client
}

// newRemote checks the server's URL and finds the token: --token-file,
// else $CTEM_TOKEN. Plain http is refused beyond loopback: the token
// would cross the network in clear.
func (e *env) newRemote(server, tokenFile string) (*remote, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usage(fmt.Errorf("--server %q: want http(s)://HOST[:PORT]", server))
	}
	if u.Scheme == "http" {
		host := u.Hostname()
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, usage(fmt.Errorf("--server %q: plain http beyond loopback would send the token in clear; use https", server))
		}
	}
	token := e.getenv("CTEM_TOKEN")
	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return nil, usage(fmt.Errorf("--token-file: %w", err))
		}
		token = strings.TrimSpace(string(b))
	}
	if token == "" {
		return nil, usage(errors.New("--server needs a token: set CTEM_TOKEN or give --token-file"))
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	// No overall timeout: an upload may be large; the server bounds it.
	return &remote{base: u, token: token, client: &http.Client{Transport: &http.Transport{
		Proxy: http.ProxyFromEnvironment, ResponseHeaderTimeout: 5 * time.Minute, TLSHandshakeTimeout: 10 * time.Second,
	}}}, nil
}

// problem reads an error response (RFC 9457) into an error.
func problem(res *http.Response) error {
	var p struct {
		Title, Detail string
		Field         string
	}
	b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	_ = json.Unmarshal(b, &p)
	msg := p.Detail
	if msg == "" {
		msg = p.Title
	}
	if msg == "" {
		msg = http.StatusText(res.StatusCode)
	}
	err := fmt.Errorf("server answered %d: %s", res.StatusCode, msg)
	switch res.StatusCode {
	case http.StatusBadRequest, http.StatusUnsupportedMediaType, http.StatusRequestEntityTooLarge:
		return &app.BadInputError{Err: err}
	case http.StatusUnauthorized, http.StatusForbidden:
		return usage(err)
	}
	return err
}

// upload streams one input to the server, gzipped on the way (the file
// is never held in memory), and returns the queued job.
func (r *remote) upload(ctx context.Context, in app.Input, target string) (store.Job, error) {
	var src io.ReadCloser
	if in.R != nil {
		src = io.NopCloser(in.R)
	} else {
		f, err := os.Open(in.Name)
		if err != nil {
			return store.Job{}, err
		}
		src = f
	}
	defer src.Close()
	pr, pw := io.Pipe()
	go func() {
		zw := gzip.NewWriter(pw)
		_, err := io.Copy(zw, src)
		if cerr := zw.Close(); err == nil {
			err = cerr
		}
		pw.CloseWithError(err)
	}()
	q := url.Values{"name": {filepath.Base(in.Name)}}
	if target != "" {
		q.Set("target", target)
	}
	u := *r.base
	u.Path += "/api/v1/ingest"
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), pr)
	if err != nil {
		pr.Close()
		return store.Job{}, err
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Content-Encoding", "gzip")
	res, err := r.client.Do(req)
	if err != nil {
		return store.Job{}, fmt.Errorf("upload %s: %w", in.Name, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		return store.Job{}, fmt.Errorf("upload %s: %w", in.Name, problem(res))
	}
	var j store.Job
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&j); err != nil {
		return store.Job{}, fmt.Errorf("upload %s: the server's answer: %w", in.Name, err)
	}
	return j, nil
}

// wait polls a job until it ends.
func (r *remote) wait(ctx context.Context, id string) (store.Job, error) {
	delay := 100 * time.Millisecond
	for {
		u := *r.base
		u.Path += "/api/v1/jobs/" + url.PathEscape(id)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return store.Job{}, err
		}
		req.Header.Set("Authorization", "Bearer "+r.token)
		res, err := r.client.Do(req)
		if err != nil {
			return store.Job{}, fmt.Errorf("job %s: %w", id, err)
		}
		var j store.Job
		if res.StatusCode == http.StatusOK {
			err = json.NewDecoder(io.LimitReader(res.Body, 16<<20)).Decode(&j)
		} else {
			err = problem(res)
		}
		res.Body.Close()
		if err != nil {
			return j, fmt.Errorf("job %s: %w", id, err)
		}
		if j.State == store.JobSucceeded || j.State == store.JobFailed {
			return j, nil
		}
		select {
		case <-ctx.Done():
			return j, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 2*time.Second)
	}
}

// ingestRemote uploads each input to the server as its own job. Without
// noWait it waits for each and returns the scans, as a local ingest
// does; with it, it prints each job's id and returns none.
func (e *env) ingestRemote(ctx context.Context, rm *remote, ins []app.Input, target string, noWait bool) ([]model.Scan, error) {
	var jobs []store.Job
	for _, in := range ins {
		j, err := rm.upload(ctx, in, target)
		if err != nil {
			return nil, err
		}
		if noWait {
			fmt.Fprintln(e.stdout, j.ID)
		} else {
			e.logf("%s uploaded: job %s", in.Name, j.ID)
		}
		jobs = append(jobs, j)
	}
	if noWait {
		return nil, nil
	}
	var scans []model.Scan
	for i, j := range jobs {
		done, err := rm.wait(ctx, j.ID)
		if err != nil {
			return scans, err
		}
		if done.State == store.JobFailed {
			return scans, &app.BadInputError{Err: fmt.Errorf("%s: job %s failed: %s", ins[i].Name, j.ID, done.Error)}
		}
		var res struct {
			Scans []model.Scan `json:"scans"`
		}
		if err := json.Unmarshal(done.Result, &res); err != nil {
			return scans, fmt.Errorf("job %s: its result: %w", j.ID, err)
		}
		scans = append(scans, res.Scans...)
	}
	return scans, nil
}
