package sqlstore

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestExposureKeys checks that the join keys of the bulk read keep ids of
// sixteen lowercase hexadecimal digits as their numbers and every other
// id as itself, so that no two ids share a key.
func TestExposureKeys(t *testing.T) {
	t.Parallel()
	var k exposureKeys
	for i, id := range []string{"00000000000000ff", "ffffffffffffffff", "0123456789abcdef", "0123456789ABCDEF", "ff", "00000000000000ff0", "zz", "000000000000000g"} {
		k.add([]byte(id), int32(i))
	}
	wantNums := []numAt{{0xff, 0}, {0xffffffffffffffff, 1}, {0x0123456789abcdef, 2}}
	wantStrs := map[string]int32{"0123456789ABCDEF": 3, "ff": 4, "00000000000000ff0": 5, "zz": 6, "000000000000000g": 7}
	if diff := cmp.Diff(k.nums, wantNums, cmp.AllowUnexported(numAt{})); diff != "" {
		t.Errorf("exposureKeys.nums (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(k.strs, wantStrs); diff != "" {
		t.Errorf("exposureKeys.strs (-got +want):\n%s", diff)
	}
}
