package scope

import _ "embed"

//go:embed starter.yaml
var starter []byte

// Starter returns a commented scope file for `ctem init` to write. It
// parses and validates as it is; the caller may modify the returned slice.
func Starter() []byte {
	return append([]byte(nil), starter...)
}
