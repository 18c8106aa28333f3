package sqlstore

import "testing"

// TestExposureSlots checks that the join of the bulk read finds each
// exposure by its id, whether the id is sixteen hexadecimal digits (kept
// as a number) or anything else (kept as a string), and no other.
func TestExposureSlots(t *testing.T) {
	t.Parallel()
	ids := []string{"00000000000000ff", "ffffffffffffffff", "0123456789abcdef", "0123456789ABCDEF", "ff", "00000000000000ff0", "zz", ""}
	s := exposureSlots{nums: map[uint64]int32{}}
	for i, id := range ids {
		s.set(keyOf([]byte(id)), int32(i))
	}
	if s.n != len(ids) {
		t.Errorf("exposureSlots.n = %d, want %d", s.n, len(ids))
	}
	for i, id := range ids {
		if got, ok := s.of(keyOf([]byte(id))); !ok || got != int32(i) {
			t.Errorf("of(keyOf(%q)) = %d, %v, want %d, true", id, got, ok, i)
		}
	}
	for _, id := range []string{"00000000000000fe", "0ff", "fF", "00000000000000FF"} {
		if got, ok := s.of(keyOf([]byte(id))); ok {
			t.Errorf("of(keyOf(%q)) = %d, true, want not found", id, got)
		}
	}
}
