package cli_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/ctem-dev/ctem/internal/intel/kev"
)

// kevServer: kevserver CVE... — serves, on loopback, a KEV catalog one
// day newer than the bundled snapshot with the given CVEs added, and
// points $CTEM_KEV_URL at it. It stands in for CISA's feed (a third-party
// endpoint), built from CISA's documented JSON format.
func kevServer(ts *testscript.TestScript, neg bool, args []string) {
	snap, err := kev.Snapshot()
	if err != nil {
		ts.Fatalf("%v", err)
	}
	type entry struct {
		CVE               string   `json:"cveID"`
		VendorProject     string   `json:"vendorProject"`
		Product           string   `json:"product"`
		VulnerabilityName string   `json:"vulnerabilityName"`
		DateAdded         string   `json:"dateAdded"`
		ShortDescription  string   `json:"shortDescription"`
		RequiredAction    string   `json:"requiredAction"`
		DueDate           string   `json:"dueDate"`
		RansomwareUse     string   `json:"knownRansomwareCampaignUse"`
		Notes             string   `json:"notes"`
		CWEs              []string `json:"cwes"`
	}
	var vulns []entry
	for _, id := range snap.CVEs() {
		e, _ := snap.Lookup(id)
		due := ""
		if !e.DueDate.IsZero() {
			due = e.DueDate.Format(time.DateOnly)
		}
		vulns = append(vulns, entry{e.CVE, e.VendorProject, e.Product, e.VulnerabilityName, e.DateAdded.Format(time.DateOnly),
			e.ShortDescription, e.RequiredAction, due, e.RansomwareUse, e.Notes, e.CWEs})
	}
	released := snap.Released.Add(24 * time.Hour)
	for _, id := range args {
		vulns = append(vulns, entry{CVE: id, VendorProject: "Test", Product: "Test", VulnerabilityName: "added by the test",
			DateAdded: released.Format(time.DateOnly), ShortDescription: "test", RequiredAction: "patch", RansomwareUse: "Unknown"})
	}
	body, err := json.Marshal(map[string]any{
		"title":           snap.Title,
		"catalogVersion":  released.Format("2006.01.02"),
		"dateReleased":    released.Format(time.RFC3339),
		"count":           len(vulns),
		"vulnerabilities": vulns,
	})
	if err != nil {
		ts.Fatalf("%v", err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	ts.Defer(srv.Close)
	ts.Setenv("CTEM_KEV_URL", srv.URL+"/known_exploited_vulnerabilities.json")
}
