package retry

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

// recorder is a Sleep that records the waits asked of it.
type recorder struct{ waits []time.Duration }

func (r *recorder) sleep(_ context.Context, d time.Duration) error {
	r.waits = append(r.waits, d)
	return nil
}

func TestDo(t *testing.T) {
	t.Parallel()
	errFinal := errors.New("final")
	errTransient := errors.New("transient")
	tests := []struct {
		name      string
		policy    Policy
		results   []error // what each try returns; the last repeats
		wantTries int
		wantWaits []time.Duration
		wantErr   error
		wantLast  []bool
	}{
		{"success at once", Policy{}, []error{nil}, 1, nil, nil, []bool{false}},
		{"final error is not retried", Policy{}, []error{errFinal}, 1, nil, errFinal, []bool{false}},
		{"backoff doubles, then success", Policy{}, []error{&Again{Err: errTransient}, &Again{Err: errTransient}, nil}, 3,
			[]time.Duration{time.Second, 2 * time.Second}, nil, []bool{false, false, false}},
		{"attempts spent: last error unwrapped", Policy{Attempts: 3}, []error{&Again{Err: errTransient}}, 3,
			[]time.Duration{time.Second, 2 * time.Second}, errTransient, []bool{false, false, true}},
		{"Retry-After honoured, bounded by MaxWait", Policy{Attempts: 3, MaxWait: 5 * time.Second},
			[]error{&Again{Err: errTransient, After: 3 * time.Second}, &Again{Err: errTransient, After: time.Hour}, nil}, 3,
			[]time.Duration{3 * time.Second, 5 * time.Second}, nil, []bool{false, false, true}},
		{"default attempts", Policy{}, []error{&Again{Err: errTransient}}, 4,
			[]time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, errTransient, []bool{false, false, false, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			p := tt.policy
			p.Sleep = rec.sleep
			var lasts []bool
			err := p.Do(context.Background(), 4, time.Minute, func(last bool) error {
				lasts = append(lasts, last)
				return tt.results[min(len(lasts), len(tt.results))-1]
			})
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("Do() = %v, want %v", err, tt.wantErr)
			}
			if _, wrapped := errors.AsType[*Again](err); wrapped {
				t.Errorf("Do() = %T, want the error without its *Again", err)
			}
			if len(lasts) != tt.wantTries {
				t.Errorf("Do() tried %d times, want %d", len(lasts), tt.wantTries)
			}
			if !equal(rec.waits, tt.wantWaits) {
				t.Errorf("Do() waited %v, want %v", rec.waits, tt.wantWaits)
			}
			if !equal(lasts, tt.wantLast) {
				t.Errorf("Do() last flags %v, want %v", lasts, tt.wantLast)
			}
		})
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDoStopsWithContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	tries := 0
	err := Policy{}.Do(ctx, 4, time.Minute, func(bool) error {
		tries++
		cancel()
		return &Again{Err: errors.New("busy")}
	})
	if !errors.Is(err, context.Canceled) || tries != 1 {
		t.Errorf("Do() with a cancelled context = %v after %d tries, want context.Canceled after 1", err, tries)
	}
}

func TestAfter(t *testing.T) {
	t.Parallel()
	future := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		in       string
		min, max time.Duration
	}{
		{"", 0, 0},
		{"7", 7 * time.Second, 7 * time.Second},
		{"-1", 0, 0},
		{"soon", 0, 0},
		{"99999999999999999999", 0, 0},
		{"9223372036854775807", 24 * time.Hour, 24 * time.Hour},
		{"Wed, 21 Oct 2015 07:28:00 GMT", 0, 0},
		{future, 80 * time.Second, 90 * time.Second},
	}
	for _, tt := range tests {
		if got := After(tt.in); got < tt.min || got > tt.max {
			t.Errorf("After(%q) = %v, want between %v and %v", tt.in, got, tt.min, tt.max)
		}
	}
}

func TestRetryable(t *testing.T) {
	t.Parallel()
	for status, want := range map[int]bool{200: false, 400: false, 404: false, 429: true, 500: true, 502: true, 503: true} {
		if got := Retryable(status); got != want {
			t.Errorf("Retryable(%d) = %v, want %v", status, got, want)
		}
	}
}

// FuzzAfter reads arbitrary Retry-After values: no panic, never a
// negative wait nor one over a day.
func FuzzAfter(f *testing.F) {
	for _, s := range []string{"2", "0", "-1", "Wed, 21 Oct 2015 07:28:00 GMT", "99999999999999999999", "9223372036854775807", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if d := After(v); d < 0 || d > 24*time.Hour {
			t.Errorf("After(%q) = %v, want within [0, 24h]", v, d)
		}
	})
}
