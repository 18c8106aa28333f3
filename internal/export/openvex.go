package export

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/ctem-dev/ctem/internal/intel/vex"
	"github.com/ctem-dev/ctem/internal/model"
)

// OpenVEX writes an OpenVEX 0.2.0 document, one statement per exposure
// with a vulnerability id, its status from the exposure's (see
// vex.StatementOf). Statements are streamed; the document's @id is
// derived from its author, subject and time, so it is known before them.
type OpenVEX struct {
	w *bufio.Writer
	n int
}

// NewOpenVEX returns an OpenVEX writer to w.
func NewOpenVEX(w io.Writer) *OpenVEX {
	return &OpenVEX{w: bufio.NewWriterSize(w, 64<<10)}
}

// Begin implements Writer.
func (o *OpenVEX) Begin(info Info) error {
	author := info.Author
	if author == "" {
		author = "ctem"
	}
	ts := info.Time.UTC().Truncate(time.Second)
	head := struct {
		Context   string    `json:"@context"`
		ID        string    `json:"@id"`
		Author    string    `json:"author"`
		Timestamp time.Time `json:"timestamp"`
		Version   int       `json:"version"`
		Tooling   string    `json:"tooling,omitempty"`
	}{vex.Context, "urn:ctem:vex:" + model.Hash(author, info.Subject, ts.Format(time.RFC3339)), author, ts, 1, "ctem"}
	b, err := json.Marshal(head)
	if err != nil {
		return fmt.Errorf("openvex header: %w", err)
	}
	o.w.Write(b[:len(b)-1])
	_, err = o.w.WriteString(`,"statements":[`)
	return err
}

// Exposure implements ExposureWriter. Exposures without a vulnerability
// id (code, misconfiguration, secret findings) are skipped: VEX speaks of
// vulnerabilities.
func (o *OpenVEX) Exposure(e *Exposure) error {
	if len(e.VulnIDs) == 0 {
		return nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // purls hold & and they are no HTML
	st := vex.StatementOf(e.Exposure, e.Evidence)
	if p := e.Package; p.PURL == "" && p.Name != "" && len(st.Products) == 1 && len(st.Products[0].Subcomponents) == 0 {
		// Without a purl, a generic one names the package, so two
		// packages on one product make two distinct statements.
		st.Products[0].Subcomponents = []vex.Component{{ID: "pkg:generic/" + url.PathEscape(p.Name) + "@" + url.PathEscape(p.Version)}}
	}
	if err := enc.Encode(st); err != nil {
		return fmt.Errorf("openvex statement: %w", err)
	}
	if o.n > 0 {
		o.w.WriteByte(',')
	}
	o.n++
	_, err := o.w.Write(bytes.TrimRight(buf.Bytes(), "\n"))
	return err
}

// End implements Writer.
func (o *OpenVEX) End() error {
	o.w.WriteString("]}\n")
	return o.w.Flush()
}
