package ticket

import (
	"strings"
	"testing"
)

// FuzzKeyOf reads keys out of arbitrary ticket bodies (a tracker's data,
// written by anyone who can edit the ticket): no panic, and a key found
// is a well-formed one that the body holds.
func FuzzKeyOf(f *testing.F) {
	f.Add("fix it\n\nctem-key: " + Key("a") + "\n")
	f.Add("`ctem-key: ctem-0123456789ab`")
	f.Add("ctem-key: ctem-")
	f.Add("")
	f.Fuzz(func(t *testing.T, body string) {
		k, ok := KeyOf(body)
		if ok && (len(k) != 17 || !strings.HasPrefix(k, "ctem-") || !strings.Contains(body, k)) {
			t.Errorf("KeyOf(%q) = %q, not a key the body holds", body, k)
		}
	})
}
