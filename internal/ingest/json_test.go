package ingest_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ctem-dev/ctem/internal/ingest"
)

func TestWalkItems(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []int
	}{
		{`[]`, nil},
		{`null`, nil},
		{`[1, 2, 3]`, []int{0, 1, 2}},
	} {
		dec := jsontext.NewDecoder(strings.NewReader(tc.in))
		var got []int
		err := ingest.WalkItems(context.Background(), dec, func(i int) error {
			got = append(got, i)
			return dec.SkipValue()
		})
		if err != nil || len(got) != len(tc.want) {
			t.Fatalf("WalkItems(%s) = %v, %v, want %v", tc.in, got, err, tc.want)
		}
		for k := range got {
			if got[k] != tc.want[k] {
				t.Errorf("WalkItems(%s) indexes %v, want %v", tc.in, got, tc.want)
			}
		}
	}
}

func TestWalkItemsStopsWithContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	dec := jsontext.NewDecoder(strings.NewReader(`[1, 2, 3]`))
	calls := 0
	err := ingest.WalkItems(ctx, dec, func(int) error {
		calls++
		cancel()
		return dec.SkipValue()
	})
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Errorf("WalkItems() after cancel = %v with %d calls, want context.Canceled after 1", err, calls)
	}
}
