package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	at := time.UnixMicro(1700000000123456).UTC()
	for _, tc := range []struct {
		v    any
		kind byte
		key  string
	}{
		{model.Finding{ID: "0123456789abcdef"}, 'f', "0123456789abcdef"},
		{model.Exposure{ID: "fedcba9876543210"}, 'x', "fedcba9876543210"},
		{model.Asset{Key: "image:docker.io/library/nginx:1.25"}, 'a', "image:docker.io/library/nginx:1.25"},
		{model.Scan{ID: "5289f7e007273790"}, 's', "5289f7e007273790"},
		{store.PathEvent{PathID: "p1", Event: "opened", At: at}, 'p', "1700000000123456 opened p1"},
		{store.StatusChange{Seq: 42}, 'c', "42"},
	} {
		c := store.Cursor(tc.v)
		got, err := store.ParseCursor(c, tc.kind)
		if err != nil || got != tc.key {
			t.Errorf("ParseCursor(Cursor(%+v), %c) = %q, %v; want %q", tc.v, tc.kind, got, err, tc.key)
		}
		other := byte('f')
		if tc.kind == 'f' {
			other = 'x'
		}
		if _, err := store.ParseCursor(c, other); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("ParseCursor(Cursor(%+v), %c) = %v, want ErrInvalid", tc.v, other, err)
		}
	}
	if c := store.Cursor(42); c != "" {
		t.Errorf("Cursor(42) = %q, want empty", c)
	}
}

// FuzzParseCursor checks that a cursor from a client, whatever it holds,
// either parses to the key Cursor encoded or is refused with ErrInvalid.
func FuzzParseCursor(f *testing.F) {
	for _, v := range []any{model.Finding{ID: "0123456789abcdef"}, model.Asset{Key: "k8s:c/ns/Pod/p"}, store.StatusChange{Seq: 7}} {
		f.Add(store.Cursor(v))
	}
	f.Add("")
	f.Add("%%%")
	f.Fuzz(func(t *testing.T, c string) {
		for _, kind := range []byte("fxaspc") {
			key, err := store.ParseCursor(c, kind)
			if err != nil {
				if !errors.Is(err, store.ErrInvalid) {
					t.Fatalf("ParseCursor(%q, %c) = %v, want ErrInvalid", c, kind, err)
				}
				continue
			}
			if key == "" {
				t.Fatalf("ParseCursor(%q, %c) = empty key without error", c, kind)
			}
		}
	})
}
