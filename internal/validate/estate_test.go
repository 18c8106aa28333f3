package validate_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/validate"
)

// TestEstateTargetsInventory: an inventory's endpoints are targets when
// the internet exposes their asset: a bare address on each port the
// exposure names, a URL as it says; an asset nothing exposes gives none,
// and a malformed endpoint is skipped.
func TestEstateTargetsInventory(t *testing.T) {
	t.Parallel()
	a := demo(t)
	const inv = `inventory: 1
assets:
  - key: host:bastion.example.com
    kind: host
    labels: {net.endpoints: "203.0.113.7,2001:db8::7,https://vpn.example.com:8443,ftp://x.example.com,a/b,c:d"}
  - key: host:internal.example.com
    kind: host
    labels: {net.endpoints: "10.0.0.5"}
relations:
  - {from: internet, to: host:bastion.example.com, type: exposes, action: tcp/22}
  - {from: internet, to: host:bastion.example.com, type: exposes, action: tcp/2222}
`
	if _, err := a.Ingest(t.Context(), app.IngestRequest{Inputs: []app.Input{{Name: "inventory.yaml", R: strings.NewReader(inv)}}}); err != nil {
		t.Fatal(err)
	}
	ts, err := validate.EstateTargets(t.Context(), a.Store)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tg := range ts {
		got = append(got, fmt.Sprintf("%s %s tls=%v", tg.Asset, tg.Address, tg.TLS))
		if !strings.Contains(tg.Reason, "net.endpoints") {
			t.Errorf("EstateTargets(): %s reason %q, want it to name the label", tg.Address, tg.Reason)
		}
	}
	want := []string{
		"host:bastion.example.com 203.0.113.7:22 tls=false",
		"host:bastion.example.com 203.0.113.7:2222 tls=false",
		"host:bastion.example.com [2001:db8::7]:22 tls=false",
		"host:bastion.example.com [2001:db8::7]:2222 tls=false",
		"host:bastion.example.com vpn.example.com:8443 tls=true",
	}
	if !slices.Equal(got, want) {
		t.Errorf("EstateTargets() = %q, want %q", got, want)
	}
}
