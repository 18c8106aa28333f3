package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/ctem-dev/ctem/internal/app"
)

// whatIf runs the what-if the fix plan page's form asks for (?whatif=KEY,
// an action of the plan): POST /api/v1/whatif, which changes nothing
// stored, so the form is a GET and its outcome a link that can be shared.
func (h *Handler) whatIf(r *http.Request, d *fixPlanData) error {
	key := strings.TrimSpace(r.URL.Query().Get("whatif"))
	if key == "" {
		return nil
	}
	body, _ := json.Marshal(map[string][]string{"fix": {key}})
	var w app.WhatIf
	if _, err := h.call(r, "POST", "/api/v1/whatif", nil, "application/json", strings.NewReader(string(body)), &w); err != nil {
		return err
	}
	d.WhatIf, d.Action = &w, key
	return nil
}

type blastData struct {
	B app.BlastRadius
}

// blastRadius shows what an attacker holding the asset (?asset=KEY)
// reaches: GET /api/v1/assets/{key}/blast-radius.
func (h *Handler) blastRadius(w http.ResponseWriter, r *http.Request) error {
	key := strings.TrimSpace(r.URL.Query().Get("asset"))
	if key == "" {
		return &apiError{Status: http.StatusBadRequest, Detail: "name the asset to assume compromised"}
	}
	var d blastData
	if err := h.get(r, "/api/v1/assets/"+url.PathEscape(key)+"/blast-radius", nil, &d.B); err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "blastradius", "Blast radius of "+d.B.Asset, "assets", d)
	return nil
}

type evidenceData struct {
	Q     map[string]string
	Items []app.Fact
	Next  string
	// MaxAgeDays is the age in days beyond which a fact reads as stale.
	MaxAgeDays float64
}

// evidence lists the stored facts of evidence (GET /api/v1/evidence)
// with their age and staleness, filtered by kind, source and asset as in
// the URL.
func (h *Handler) evidence(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	d := evidenceData{Q: map[string]string{}}
	aq := url.Values{"limit": {"100"}}
	for _, k := range []string{"kind", "source", "asset", "max_age", "cursor"} {
		if v := strings.TrimSpace(q.Get(k)); v != "" {
			aq.Set(k, v)
			d.Q[k] = v
		}
	}
	var pg app.EvidencePage
	if err := h.get(r, "/api/v1/evidence", aq, &pg); err != nil {
		return err
	}
	d.Items, d.MaxAgeDays = pg.Items, pg.MaxAgeSeconds/86400
	if pg.NextCursor != "" {
		nq := url.Values{}
		for k, v := range d.Q {
			nq.Set(k, v)
		}
		nq.Set("cursor", pg.NextCursor)
		d.Next = "/evidence?" + nq.Encode()
	}
	h.render(w, r, http.StatusOK, "evidence", "Evidence", "evidence", d)
	return nil
}
