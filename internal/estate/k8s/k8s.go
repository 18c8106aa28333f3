// Package k8s reads Kubernetes manifests — the multi-document YAML that
// kubectl, helm template and kustomize print, and kubectl's JSON objects
// and Lists — into the assets and relations of the exposure graph:
// workloads and the images they run, service accounts, secrets, services,
// ingresses, RBAC permissions and the reachability that network policies
// leave. It reports no findings.
//
// Each object's asset carries the facts that relations across objects
// need (label model.LabelK8sObject). Parse emits the relations among the
// objects of its input, and Join, which the estate's correlation calls
// over everything stored, recomputes them over every input of a cluster
// at once: an estate split one object per file, ingested in any order,
// gives the graph of one stream.
package k8s

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/model"
)

// Tool is the tool name scans carry.
const Tool = "kubernetes"

// Format is Kubernetes manifests in YAML (one or more documents) or JSON
// (an object, or a List of them as kubectl get -o json prints).
var Format = ingest.Format{
	Name:   "kubernetes",
	Title:  "Kubernetes manifests (YAML documents, kubectl JSON and Lists)",
	Detect: Detect,
	Parse:  Parse,
}

// notManifests are API groups whose objects are reports or build
// configuration rather than cluster state; other formats (or none) read
// them.
var notManifests = []string{
	"kustomize.config.k8s.io",
	"config.kubernetes.io",
	"wgpolicyk8s.io",
	"openreports.io",
	"aquasecurity.github.io",
}

func isManifestAPI(apiVersion string) bool {
	apiVersion = strings.Trim(strings.TrimSpace(apiVersion), `"'`)
	if apiVersion == "" {
		return false
	}
	group, _, _ := strings.Cut(apiVersion, "/")
	for _, g := range notManifests {
		if group == g {
			return false
		}
	}
	return true
}

// Detect accepts YAML whose first document has top-level apiVersion and
// kind keys, and a JSON object with apiVersion and kind, or with
// apiVersion and items that have them (kubectl writes a List's kind after
// its items, beyond the sniffed head), or with apiVersion v1 and items
// only (an empty List).
func Detect(s *ingest.Sniff) bool {
	switch s.Kind {
	case ingest.SniffYAML:
		keys := yamlHeadKeys(s.Head)
		return keys["kind"] != "" && isManifestAPI(keys["apiVersion"])
	case ingest.SniffJSONObject:
		if !isManifestAPI(s.Get("apiVersion")) {
			return false
		}
		if s.Get("kind") != "" && !s.Has("items") {
			return true
		}
		if s.Has("items") && s.Get("items[].kind") == "" && strings.Trim(s.Get("apiVersion"), `"' `) == "v1" {
			return true // an empty List, which kubectl prints without its kind
		}
		return s.Has("items") && s.Get("items[].kind") != "" && isManifestAPI(s.Get("items[].apiVersion"))
	}
	return false
}

var topKeyRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9_]*)\s*:\s*(.*)$`)

// yamlHeadKeys returns the top-level keys of the first YAML document of
// head that has any, with their scalar text.
func yamlHeadKeys(head []byte) map[string]string {
	keys := map[string]string{}
	for line := range strings.SplitSeq(string(head), "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "---" || strings.HasPrefix(line, "--- ") {
			if len(keys) > 0 {
				break
			}
			continue
		}
		if m := topKeyRE.FindStringSubmatch(line); m != nil {
			v := m[2]
			if i := strings.Index(v, " #"); i >= 0 {
				v = v[:i]
			}
			keys[m[1]] = strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return keys
}

// Parse reads the manifests of in and emits them into sink as one scan of
// the cluster named by --target (else "default").
func Parse(ctx context.Context, in *ingest.Input, sink ingest.Sink) error {
	p := newParser(in, sink)
	if err := p.begin(); err != nil {
		return err
	}
	b, _ := in.R.Peek(1 << 10)
	var err error
	if first := firstNonSpace(b); first == '{' || first == '[' {
		err = p.readJSON(ctx)
	} else {
		err = p.readYAML(ctx)
	}
	if err != nil {
		return err
	}
	return p.finish()
}

func firstNonSpace(b []byte) byte {
	for len(b) > 0 {
		if len(b) >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf {
			b = b[3:]
			continue
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			b = b[1:]
		default:
			return b[0]
		}
	}
	return 0
}

// readYAML decodes one document at a time.
func (p *parser) readYAML(ctx context.Context) error {
	// yaml.v3 holds a whole document: each may not pass MaxItem.
	wr := p.in.WholeReader("a YAML document")
	lc := &lineCounter{r: wr}
	dec := yaml.NewDecoder(lc)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var doc yaml.Node
		wr.Reset()
		err := safeYAML(func() error { return dec.Decode(&doc) })
		if rerr := wr.ReadErr(); rerr != nil {
			return ingest.AsInputError(p.in, lc.off, rerr)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return p.yamlError(lc, err, 0)
		}
		n := &doc
		if n.Kind == yaml.DocumentNode {
			if len(n.Content) == 0 {
				continue
			}
			n = n.Content[0]
		}
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			continue // an empty document, as helm template prints
		}
		if n.Kind != yaml.MappingNode {
			return p.yamlError(lc, errors.New("a manifest document must be a mapping with apiVersion and kind"), n.Line)
		}
		var o object
		if err := safeYAML(func() error { return n.Decode(&o) }); err != nil {
			return p.yamlError(lc, err, n.Line)
		}
		o.line = n.Line
		if err := p.manifest(ctx, &o, func(err error, line int) error { return p.yamlError(lc, err, line) }); err != nil {
			return err
		}
	}
}

// readJSON decodes JSON objects one after the other; the items of a List
// are decoded one at a time.
func (p *parser) readJSON(ctx context.Context) error {
	dec := ingest.NewJSONDecoder(p.in.R)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if dec.PeekKind() == 0 {
			_, err := dec.ReadToken()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return ingest.AsInputError(p.in, dec.InputOffset(), err)
		}
		start := dec.InputOffset()
		var o object
		var items bool
		jsonErr := func(err error, _ int) error { return p.in.ErrorAt(start, err) }
		err := ingest.WalkObject(dec, func(name string) error {
			switch name {
			case "items":
				items = true
				return ingest.WalkArray(dec, func() error {
					if err := ctx.Err(); err != nil {
						return err
					}
					var item object
					if err := ingest.DecodeJSON(dec, &item); err != nil {
						return err
					}
					return p.manifest(ctx, &item, jsonErr)
				})
			case "apiVersion":
				return ingest.DecodeJSON(dec, &o.APIVersion)
			case "kind":
				return ingest.DecodeJSON(dec, &o.Kind)
			case "metadata":
				return ingest.DecodeJSON(dec, &o.Metadata)
			case "spec":
				return ingest.DecodeJSON(dec, &o.Spec)
			case "type":
				return ingest.DecodeJSON(dec, &o.Type)
			case "rules":
				return ingest.DecodeJSON(dec, &o.Rules)
			case "subjects":
				return ingest.DecodeJSON(dec, &o.Subjects)
			case "roleRef":
				return ingest.DecodeJSON(dec, &o.RoleRef)
			case "data":
				return ingest.DecodeJSON(dec, &o.Data)
			case "automountServiceAccountToken":
				return ingest.DecodeJSON(dec, &o.AutomountServiceAccountToken)
			}
			return dec.SkipValue()
		})
		if err != nil {
			return ingest.AsInputError(p.in, dec.InputOffset(), err)
		}
		if items {
			if !isList(o.Kind) && o.Kind != "" {
				return p.in.Errorf(start, "a %s object with items is no List", o.Kind)
			}
			continue
		}
		if err := p.manifest(ctx, &o, jsonErr); err != nil {
			return err
		}
	}
}

func isList(kind string) bool { return strings.HasSuffix(kind, "List") }

// manifest checks and records one decoded object, or the items of a
// List. errAt turns an error at a YAML line (0 when unknown) into an
// input error.
func (p *parser) manifest(ctx context.Context, o *object, errAt func(error, int) error) error {
	if o.Kind == "" || o.APIVersion == "" {
		return errAt(errors.New("a manifest needs apiVersion and kind"), o.line)
	}
	if isList(o.Kind) {
		for i := range o.Items {
			if err := ctx.Err(); err != nil {
				return err
			}
			if o.Items[i].line == 0 {
				o.Items[i].line = o.line
			}
			if err := p.manifest(ctx, &o.Items[i], errAt); err != nil {
				return err
			}
		}
		return nil
	}
	if o.Metadata.Name == "" {
		return errAt(fmt.Errorf("a %s without metadata.name", o.Kind), o.line)
	}
	if err := p.add(o); err != nil {
		line := o.Spec.line()
		if line == 0 {
			line = o.line
		}
		return errAt(err, line)
	}
	return nil
}

// safeYAML runs a YAML decode and turns a panic of the decoder into an
// error: the input is attacker-controlled and a crash must not follow.
func safeYAML(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml decoder failed: %v", r)
		}
	}()
	return fn()
}

var yamlLineRE = regexp.MustCompile(`line (\d+): `)

// yamlError turns a YAML error into an *ingest.InputError with the line
// the decoder names (else line, else none) and the byte offset of that
// line's start when it is still known.
func (p *parser) yamlError(lc *lineCounter, err error, line int) error {
	if _, ok := errors.AsType[*ingest.InputError](err); ok {
		return err
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n  ")
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = strings.Replace(msg, m[0], "", 1)
	}
	msg = strings.ReplaceAll(msg, "\n  ", "; ")
	ie := &ingest.InputError{File: p.in.Name, Offset: lc.off, Err: errors.New("invalid YAML: " + msg)}
	if line > 0 {
		ie.Line, ie.Col = line, 1
		ie.Offset = lc.lineStart(line)
	}
	return ie
}

// lineCounter passes a reader through, remembering the byte offsets at
// which its last 4096 lines started, so that a YAML error by line can
// carry an offset without keeping the input.
type lineCounter struct {
	r      io.Reader
	off    int64
	line   int // lines started so far; line 1 starts at 0
	starts [4096]int64
}

func (l *lineCounter) Read(b []byte) (int, error) {
	if l.line == 0 {
		l.line = 1
	}
	n, err := l.r.Read(b)
	for i, c := range b[:n] {
		if c == '\n' {
			l.line++
			l.starts[l.line%len(l.starts)] = l.off + int64(i) + 1
		}
	}
	l.off += int64(n)
	return n, err
}

// lineStart returns the offset of line's start, or -1 when forgotten.
func (l *lineCounter) lineStart(line int) int64 {
	switch {
	case line == 1:
		return 0
	case line < 1 || line > l.line || line <= l.line-len(l.starts):
		return -1
	}
	return l.starts[line%len(l.starts)]
}

// newParser returns a parser for one input.
func newParser(in *ingest.Input, sink ingest.Sink) *parser {
	p := newCluster(in.TargetOr("default"), "k8s:"+filepath.Base(in.Name), sink)
	p.in = in
	return p
}

func (p *parser) begin() error {
	if err := p.sink.BeginScan(model.Scan{Tool: Tool, Format: Tool, Target: p.cluster, Asset: p.clusterKey}); err != nil {
		return err
	}
	return p.asset(model.Asset{Key: p.clusterKey, Kind: model.KindCluster, Name: p.cluster}, p.source)
}
