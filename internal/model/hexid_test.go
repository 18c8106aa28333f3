package model

import "testing"

func TestHexID16(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0000000000000000", 0, true},
		{"00000000000000ff", 255, true},
		{"ffffffffffffffff", ^uint64(0), true},
		{"3219b31c37dac51d", 0x3219b31c37dac51d, true},
		{"3219B31C37DAC51D", 0, false}, // upper case is not an id's form
		{"3219b31c37dac51", 0, false},
		{"3219b31c37dac51d0", 0, false},
		{"3219b31c37dac51g", 0, false},
		{"", 0, false},
	} {
		n, ok := HexID16(tc.in)
		nb, okb := HexID16([]byte(tc.in))
		if n != tc.want || ok != tc.ok || nb != n || okb != ok {
			t.Errorf("HexID16(%q) = %x, %v (bytes: %x, %v), want %x, %v", tc.in, n, ok, nb, okb, tc.want, tc.ok)
		}
	}
}
