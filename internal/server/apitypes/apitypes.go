// Package apitypes holds the request and response types that oapi-codegen
// generates from api/openapi.yaml, the contract's source. The server
// decodes request bodies into them; response bodies are the command
// line's -o json elements (package model and app types), checked against
// the same document by the server's tests.
package apitypes

//go:generate go tool oapi-codegen -generate types -package apitypes -o types.gen.go ../../../api/openapi.yaml
