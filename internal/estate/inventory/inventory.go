// Package inventory reads a plain asset inventory — a CMDB export as YAML
// or JSON — into assets and relations:
//
//	inventory: 1
//	assets:
//	  - key: host:db1.internal
//	    kind: host
//	    name: db1
//	    labels: {dc: fra1}
//	    environment: production
//	    owner: team-data
//	    criticality: critical
//	relations:
//	  - {from: host:web1.internal, to: host:db1.internal, type: connects-to, action: tcp/5432}
//
// The top-level key "inventory" with the format version 1 marks the
// document; detection looks for it and nothing else. Decoding is strict:
// an unknown key, a key without a "namespace:" prefix (the one exception
// is "internet"), an unknown kind, relation type or criticality is an
// input error with its line (YAML) or offset (JSON).
package inventory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"go.yaml.in/yaml/v3"

	"github.com/ctem-dev/ctem/internal/estate/scope"
	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/model"
)

// Tool is the tool name scans carry.
const Tool = "inventory"

// Version is the inventory format version this package reads.
const Version = 1

// Format is an inventory document in YAML or JSON.
var Format = ingest.Format{
	Name:   "inventory",
	Title:  "Asset inventory (CMDB export, YAML or JSON with \"inventory: 1\")",
	Detect: Detect,
	Parse:  Parse,
}

// Kinds are the asset kinds an inventory may use.
var Kinds = []model.AssetKind{
	model.KindRepository, model.KindImage, model.KindPackage, model.KindWorkload, model.KindHost,
	model.KindFunction, model.KindLoadBalancer, model.KindEndpoint, model.KindIdentity, model.KindSecret,
	model.KindDatastore, model.KindNetwork, model.KindCluster, model.KindAccount, model.KindNode,
	model.KindFile, model.KindResource,
}

// RelationTypes are the relation types an inventory may use.
var RelationTypes = []model.RelationType{
	model.RelExposes, model.RelRoutesTo, model.RelRuns, model.RelBuiltFrom, model.RelContains,
	model.RelUsesIdentit, model.RelCan, model.RelMounts, model.RelReadsEnv, model.RelConnectsTo,
	model.RelRunsOn, model.RelMemberOf, model.RelDeploys, model.RelGrants, model.RelAliasOf,
}

// Asset is one asset of an inventory.
type Asset struct {
	Key         string            `json:"key" yaml:"key"`
	Kind        string            `json:"kind" yaml:"kind"`
	Name        string            `json:"name" yaml:"name"`
	Labels      map[string]string `json:"labels" yaml:"labels"`
	Environment string            `json:"environment" yaml:"environment"`
	Owner       string            `json:"owner" yaml:"owner"`
	Criticality string            `json:"criticality" yaml:"criticality"`
}

// Relation is one relation of an inventory.
type Relation struct {
	From   string `json:"from" yaml:"from"`
	To     string `json:"to" yaml:"to"`
	Type   string `json:"type" yaml:"type"`
	Action string `json:"action" yaml:"action"`
}

var yamlMarkerRE = regexp.MustCompile(`(?m)^inventory:[ \t]*["']?1["']?[ \t]*(#.*)?\r?$`)

// Detect accepts a JSON object whose top-level "inventory" is 1, or YAML
// with a top-level "inventory: 1" line in its head.
func Detect(s *ingest.Sniff) bool {
	switch s.Kind {
	case ingest.SniffJSONObject:
		return s.Get("inventory") == "1" || s.Get("inventory") == "1.0"
	case ingest.SniffYAML:
		return yamlMarkerRE.Match(s.Head)
	}
	return false
}

// parser emits the records of one input.
type parser struct {
	in     *ingest.Input
	sink   ingest.Sink
	source string
	began  bool
}

// Parse reads an inventory and emits its assets and relations as one scan
// of the --target (else "inventory"). JSON is read one asset at a time;
// YAML one document.
func Parse(ctx context.Context, in *ingest.Input, sink ingest.Sink) error {
	p := &parser{in: in, sink: sink, source: "inventory:" + filepath.Base(in.Name)}
	b, _ := in.R.Peek(1 << 10)
	if first := firstNonSpace(b); first == '{' {
		return p.readJSON(ctx)
	}
	return p.readYAML(ctx)
}

func firstNonSpace(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n', 0xef, 0xbb, 0xbf:
			continue
		}
		return c
	}
	return 0
}

// begin starts the scan before the first record; the version must be
// known by then.
func (p *parser) begin() error {
	if p.began {
		return nil
	}
	p.began = true
	target := p.in.TargetOr("inventory")
	return p.sink.BeginScan(model.Scan{Tool: Tool, Format: Tool, Target: target})
}

var strict = json.RejectUnknownMembers(true)

func (p *parser) readJSON(ctx context.Context) error {
	dec := p.in.JSONDecoder()
	version := ""
	// Relations are emitted after all assets; until then their raw
	// values wait in a spool, which holds a few MiB in memory and the
	// rest in a temporary file.
	var rels ingest.Spool
	defer rels.Close()
	err := ingest.WalkObject(dec, func(name string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		off := dec.InputOffset()
		switch name {
		case "inventory":
			var v ingest.Text
			if err := ingest.DecodeJSON(dec, &v); err != nil {
				return err
			}
			version = string(v)
			return checkVersion(version, func(err error) error { return p.in.Errorf(off, "%v", err) })
		case "assets":
			return ingest.WalkArray(dec, func() error {
				if err := ctx.Err(); err != nil {
					return err
				}
				off := dec.InputOffset()
				var a Asset
				if err := ingest.DecodeJSON(dec, &a, strict); err != nil {
					return err
				}
				if version == "" {
					return p.in.Errorf(off, `"inventory": 1 must come before the assets`)
				}
				return p.asset(a, func(err error) error { return p.in.Errorf(off, "%v", err) })
			})
		case "relations":
			i := 0
			return ingest.WalkArray(dec, func() error {
				v, err := dec.ReadValue()
				if err != nil {
					return err
				}
				off := dec.InputOffset() - int64(len(v))
				var r Relation
				if err := ingest.DecodeSpooled(p.in, off, fmt.Sprintf("/relations/%d", i), v, &r, strict); err != nil {
					return err
				}
				i++
				if err := checkRelation(r); err != nil {
					return p.in.Errorf(off, "%v", err)
				}
				if err := rels.Add(off, 0, v); err != nil {
					return err
				}
				return ctx.Err()
			})
		}
		return p.in.Errorf(off, "unknown key %q (want inventory, assets, relations)", name)
	})
	if err == nil {
		err = ingest.ExpectEOF(p.in, dec)
	}
	if err != nil {
		return ingest.AsInputError(p.in, dec.InputOffset(), err)
	}
	if version == "" {
		return p.in.Errorf(0, `no "inventory": 1 marker`)
	}
	return p.finishSpooled(&rels)
}

// finishSpooled emits the relations a JSON inventory spooled, each
// checked when it was read.
func (p *parser) finishSpooled(rels *ingest.Spool) error {
	if err := p.begin(); err != nil {
		return err
	}
	return rels.Each(func(off int64, _ int, v jsontext.Value) error {
		var r Relation
		if err := ingest.DecodeSpooled(p.in, off, "", v, &r, strict); err != nil {
			return err
		}
		return p.relation(r)
	})
}

func (p *parser) finish(rels []Relation) error {
	if err := p.begin(); err != nil {
		return err
	}
	for _, r := range rels {
		if err := p.relation(r); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) relation(r Relation) error {
	return p.sink.Relation(model.Relation{From: r.From, To: r.To, Type: model.RelationType(r.Type), Action: r.Action, Source: p.source})
}

func checkVersion(v string, errf func(error) error) error {
	if n, err := strconv.ParseFloat(v, 64); err != nil || n != Version {
		return errf(fmt.Errorf("inventory version %q, want %d", v, Version))
	}
	return nil
}

// document is the YAML form.
type document struct {
	Inventory yaml.Node   `yaml:"inventory"`
	Assets    []yaml.Node `yaml:"assets"`
	Relations []yaml.Node `yaml:"relations"`
}

func (p *parser) readYAML(ctx context.Context) error {
	// A YAML document is decoded whole: it may not pass MaxItem.
	wr := p.in.WholeReader("a YAML inventory")
	dec := yaml.NewDecoder(wr)
	dec.KnownFields(true)
	var doc document
	if err := safeYAML(func() error { return dec.Decode(&doc) }); err != nil {
		if rerr := wr.ReadErr(); rerr != nil {
			return ingest.AsInputError(p.in, 0, rerr)
		}
		if errors.Is(err, io.EOF) {
			return p.in.Errorf(0, "empty input")
		}
		return p.yamlError(err, 0)
	}
	var extra yaml.Node
	if err := safeYAML(func() error { return dec.Decode(&extra) }); !errors.Is(err, io.EOF) {
		return p.yamlError(errors.New("an inventory is one YAML document"), extra.Line)
	}
	if doc.Inventory.Kind == 0 {
		return p.yamlError(errors.New("no inventory: 1 marker"), 1)
	}
	if err := checkVersion(doc.Inventory.Value, func(err error) error { return p.yamlError(err, doc.Inventory.Line) }); err != nil {
		return err
	}
	for i := range doc.Assets {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := &doc.Assets[i]
		var a Asset
		if err := safeYAML(func() error { return decodeStrict(n, &a) }); err != nil {
			return p.yamlError(err, n.Line)
		}
		if err := p.asset(a, func(err error) error { return p.yamlError(err, n.Line) }); err != nil {
			return err
		}
	}
	var rels []Relation
	for i := range doc.Relations {
		n := &doc.Relations[i]
		var r Relation
		if err := safeYAML(func() error { return decodeStrict(n, &r) }); err != nil {
			return p.yamlError(err, n.Line)
		}
		if err := checkRelation(r); err != nil {
			return p.yamlError(err, n.Line)
		}
		rels = append(rels, r)
	}
	return p.finish(rels)
}

// decodeStrict decodes a node rejecting unknown keys: yaml.Node.Decode
// does not apply the decoder's KnownFields, so the node is re-encoded.
func decodeStrict(n *yaml.Node, v any) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: want a mapping", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if !knownKey(v, k.Value) {
			return fmt.Errorf("line %d: unknown key %q", k.Line, k.Value)
		}
	}
	return n.Decode(v)
}

func knownKey(v any, k string) bool {
	switch v.(type) {
	case *Asset:
		return slices.Contains([]string{"key", "kind", "name", "labels", "environment", "owner", "criticality"}, k)
	case *Relation:
		return slices.Contains([]string{"from", "to", "type", "action"}, k)
	}
	return false
}

func safeYAML(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml decoder failed: %v", r)
		}
	}()
	return fn()
}

var yamlLineRE = regexp.MustCompile(`line (\d+): `)

// yamlError turns an error into an *ingest.InputError at the line the
// message names, else at line.
func (p *parser) yamlError(err error, line int) error {
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
	ie := &ingest.InputError{File: p.in.Name, Offset: -1, Err: errors.New(msg)}
	if line > 0 {
		ie.Line, ie.Col = line, 1
	}
	return ie
}

// checkKey validates an asset key: a namespace, a colon and a name, or
// "internet".
func checkKey(k string) error {
	ns, rest, ok := strings.Cut(k, ":")
	if k == "internet" || ok && ns != "" && rest != "" && !strings.ContainsAny(ns, " \t\n") {
		return nil
	}
	return fmt.Errorf("key %q needs a namespace (host:, repo:, arn:…)", k)
}

func (p *parser) asset(a Asset, errf func(error) error) error {
	if err := checkKey(a.Key); err != nil {
		return errf(err)
	}
	kind := model.AssetKind(a.Kind)
	if kind == "" {
		kind = model.KindOfKey(a.Key)
	}
	if !slices.Contains(Kinds, kind) {
		return errf(fmt.Errorf("asset %s: unknown kind %q", a.Key, a.Kind))
	}
	if a.Criticality != "" && !slices.Contains(scope.Criticalities, a.Criticality) {
		return errf(fmt.Errorf("asset %s: criticality %q, want one of %s", a.Key, a.Criticality, strings.Join(scope.Criticalities, ", ")))
	}
	if err := p.begin(); err != nil {
		return err
	}
	name := a.Name
	if name == "" {
		_, name, _ = strings.Cut(a.Key, ":")
	}
	return p.sink.Asset(model.Asset{Key: a.Key, Kind: kind, Name: name, Labels: a.Labels, Environment: a.Environment,
		Owner: a.Owner, Criticality: a.Criticality, Source: p.source})
}

func checkRelation(r Relation) error {
	for _, k := range []string{r.From, r.To} {
		if err := checkKey(k); err != nil {
			return fmt.Errorf("relation: %v", err)
		}
	}
	if !slices.Contains(RelationTypes, model.RelationType(r.Type)) {
		return fmt.Errorf("relation %s -> %s: unknown type %q", r.From, r.To, r.Type)
	}
	return nil
}
