package validate

import (
	"testing"

	"github.com/ctem-dev/ctem/internal/model"
)

// FuzzEndpointTargets: an endpoint label, attacker-controlled like every
// estate input, never panics and gives only well-formed targets of its
// asset.
func FuzzEndpointTargets(f *testing.F) {
	for _, s := range []string{"https://shop.example.com", "http://192.0.2.80:8080", "tcp://[2001:db8::1]:22", "203.0.113.7", "2001:db8::7", "ftp://x", "a/b", "https://u@h/p?q#f", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ep string) {
		a := model.Asset{Key: "host:x", Kind: model.KindHost}
		ts, _ := endpointTargets(a, ep, []int{22, 443})
		for _, tg := range ts {
			if tg.Asset != a.Key || CheckTargets([]Target{tg}) != nil {
				t.Errorf("endpointTargets(%q) = %+v, want well-formed targets of %s", ep, tg, a.Key)
			}
		}
	})
}
