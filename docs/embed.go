// Package docs holds the service's OpenAPI document, embedded in the binary: the API serves it
// at GET /v1/openapi.yaml and renders the dashboard's API reference from it, and the tests
// check every answer against it.
package docs

import _ "embed" // the document

// OpenAPI is docs/openapi.yaml, byte for byte.
//
//go:embed openapi.yaml
var OpenAPI []byte
