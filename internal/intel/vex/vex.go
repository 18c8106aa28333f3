// Package vex writes OpenVEX documents (https://openvex.dev, spec v0.2.0)
// for what ctem knows is not affected or accepted, so that scanners and
// other tools downstream can suppress the same findings. Reading VEX is
// the job of the ingest formats (ingest/openvex, ingest/cyclonedx).
package vex

import (
	"encoding/json"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/ctem-dev/ctem/internal/model"
)

// Context is the OpenVEX context URI of the documents written.
const Context = "https://openvex.dev/ns/v0.2.0"

// Justifications are the OpenVEX justifications of not_affected.
var Justifications = []string{
	"component_not_present",
	"vulnerable_code_not_present",
	"vulnerable_code_not_in_execute_path",
	"vulnerable_code_cannot_be_controlled_by_adversary",
	"inline_mitigations_already_exist",
}

// Document is an OpenVEX document.
type Document struct {
	Context    string      `json:"@context"`
	ID         string      `json:"@id"`
	Author     string      `json:"author"`
	Timestamp  time.Time   `json:"timestamp"`
	Version    int         `json:"version"`
	Tooling    string      `json:"tooling,omitempty"`
	Statements []Statement `json:"statements"`
}

// Statement is one OpenVEX statement.
type Statement struct {
	Vulnerability   Vulnerability `json:"vulnerability"`
	Products        []Product     `json:"products"`
	Status          string        `json:"status"`
	Justification   string        `json:"justification,omitempty"`
	ImpactStatement string        `json:"impact_statement,omitempty"`
	ActionStatement string        `json:"action_statement,omitempty"`
}

// Vulnerability names a vulnerability with its aliases.
type Vulnerability struct {
	Name    string   `json:"name"`
	Aliases []string `json:"aliases,omitempty"`
}

// Product is a product a statement applies to, with the subcomponent
// (package) that carries the vulnerability.
type Product struct {
	ID            string      `json:"@id"`
	Subcomponents []Component `json:"subcomponents,omitempty"`
}

// Component is a subcomponent, named by purl.
type Component struct {
	ID string `json:"@id"`
}

// Build makes a document of statements for the exposures: not_affected
// ones as not_affected, with the justification the evidence gave when it
// is one of OpenVEX's (else an impact statement quoting it); accepted ones
// as affected, with an action statement saying the risk is accepted.
// Other statuses are skipped. ev maps an exposure id to its evidence.
func Build(author string, now time.Time, xs []model.Exposure, ev map[string][]model.Evidence) Document {
	d := Document{Context: Context, Author: author, Timestamp: now.UTC().Truncate(time.Second), Version: 1, Tooling: "ctem"}
	var ids []string
	for _, x := range xs {
		if x.Status != model.StatusNotAffected && x.Status != model.StatusAccepted {
			continue
		}
		d.Statements = append(d.Statements, StatementOf(x, ev[x.ID]))
		ids = append(ids, x.ID)
	}
	slices.Sort(ids)
	d.ID = "urn:ctem:vex:" + model.Hash(append([]string{author}, ids...)...)
	if d.Statements == nil {
		d.Statements = []Statement{}
	}
	return d
}

// StatementOf makes the statement of one exposure from its status:
// not_affected, with the justification its evidence gave when it is one
// of OpenVEX's (else an impact statement quoting it); false_positive as
// not_affected saying so; accepted as affected, with an action statement
// saying the risk is accepted; fixed as fixed; open as
// under_investigation (a tool reported it, nobody has decided). ev is the
// exposure's evidence.
func StatementOf(x model.Exposure, ev []model.Evidence) Statement {
	name := x.RuleID
	var aliases []string
	if len(x.VulnIDs) > 0 {
		name, aliases = x.VulnIDs[0], x.VulnIDs[1:]
	}
	st := Statement{Vulnerability: Vulnerability{Name: name, Aliases: aliases}, Products: []Product{product(x)}}
	switch x.Status {
	case model.StatusNotAffected:
		st.Status = "not_affected"
		st.Justification, st.ImpactStatement = justification(ev)
	case model.StatusFalsePositive:
		st.Status = "not_affected"
		st.ImpactStatement = "False positive, as recorded in ctem."
	case model.StatusAccepted:
		st.Status = "affected"
		st.ActionStatement = "Risk accepted: no action planned while the exception holds."
	case model.StatusFixed:
		st.Status = "fixed"
	default:
		st.Status = "under_investigation"
	}
	return st
}

// product names the asset as OpenVEX expects: images as pkg:oci purls,
// anything else by its key.
func product(x model.Exposure) Product {
	id := x.Asset
	if ref, ok := strings.CutPrefix(x.Asset, "image:"); ok {
		if r, ok := model.ParseImageRef(ref); ok {
			name := r.Repository
			if i := strings.LastIndex(name, "/"); i >= 0 {
				name = name[i+1:]
			}
			id = "pkg:oci/" + name + "?repository_url=" + r.Registry + "/" + r.Repository
			if r.Digest != "" {
				id = "pkg:oci/" + name + "@" + strings.ReplaceAll(r.Digest, ":", "%3A") + "?repository_url=" + r.Registry + "/" + r.Repository
			} else if r.Tag != "" {
				id += "&tag=" + r.Tag
			}
		}
	}
	p := Product{ID: id}
	if x.Package.PURL != "" {
		p.Subcomponents = []Component{{ID: x.Package.PURL}}
	}
	return p
}

func justification(ev []model.Evidence) (just, impact string) {
	for _, e := range ev {
		if e.Kind != model.EvidenceVEXNotAffected {
			continue
		}
		for _, j := range Justifications {
			if strings.Contains(e.Detail, j) {
				return j, ""
			}
		}
		if e.Detail != "" {
			return "", e.Detail
		}
	}
	return "", "Not affected, as recorded in ctem."
}

// Write writes d as indented JSON.
func Write(w io.Writer, d Document) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // purls hold & and they are no HTML
	return enc.Encode(d)
}
