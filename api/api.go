// Package api holds ctem's HTTP API contract, the OpenAPI document
// api/openapi.yaml, embedded so that the server serves it and its tests
// validate every response against it.
package api

import (
	_ "embed"
	"encoding/json"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// OpenAPI is the OpenAPI 3.1 document, as written.
//
//go:embed openapi.yaml
var OpenAPI []byte

// JSON returns the OpenAPI document as JSON.
func JSON() ([]byte, error) {
	var v any
	if err := yaml.Unmarshal(OpenAPI, &v); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	return json.Marshal(v)
}
