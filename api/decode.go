package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"
)

// decodeJSON reads one JSON object strictly: unknown fields, trailing data and oversized bodies
// are errors with the right status.
func decodeJSON(c *gin.Context, v any) error {
	dec := json.NewDecoder(c.Request.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &mbe):
			return errStatus(http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body larger than %d bytes", mbe.Limit))
		case errors.Is(err, io.EOF):
			return badRequest("empty body: a JSON object is expected")
		case errors.As(err, &se):
			return badRequest(fmt.Sprintf("malformed JSON at byte %d", se.Offset))
		case errors.As(err, &te):
			return badRequest(fmt.Sprintf("field %q must be %s", te.Field, te.Type))
		default:
			return badRequest("invalid JSON: " + truncateMsg(err.Error()))
		}
	}
	if dec.More() {
		return badRequest("trailing data after the JSON object")
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		return badRequest("trailing data after the JSON object")
	}
	return nil
}

func truncateMsg(s string) string {
	if len(s) > 120 {
		return s[:120]
	}
	return s
}

// strictUnmarshal decodes one JSON object from b, refusing unknown fields and trailing data.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("malformed JSON: %s", truncateMsg(err.Error()))
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}
