package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"personas/ingest"
	"personas/models"
)

// collect takes a batch of events: 204 once every kept event is durably stored. The contract
// and the privacy pass are ingest's; the site gate comes between them.
func (s *Server) collect(c *gin.Context) {
	body, err := readCollectBody(c)
	if err != nil {
		s.metrics.dropped.WithLabelValues(models.ReasonBadShape).Inc()
		s.fail(c, err)
		return
	}
	payload, err := ingest.ParsePayload(body)
	if err != nil {
		s.countBadShape(c, body)
		s.fail(c, badRequest(err.Error()))
		return
	}
	p, ok := s.siteGate(c, collectSite, payload.SiteKey, int64(len(payload.Events)))
	if !ok {
		return
	}
	batch := ingest.Prepare(s.store.Index(), p, c.Request.UserAgent(), payload, s.store.Now().UTC())
	for r, k := range batch.Dropped {
		s.metrics.dropped.WithLabelValues(r).Add(float64(k))
	}
	ctx, cancel := context.WithTimeout(c, 10*time.Second)
	defer cancel()
	if err := s.ingester.Submit(ctx, batch); err != nil {
		s.metrics.dropped.WithLabelValues(models.ReasonUnavailable).Add(float64(len(batch.Events)))
		s.fail(c, errStatus(http.StatusServiceUnavailable, "unavailable", "storage is unavailable; retry later"))
		return
	}
	c.Status(http.StatusNoContent)
}

// countBadShape counts a rejected request's events against its project when the body at least
// names a known site key, so the delivery counters show malformed traffic too.
func (s *Server) countBadShape(c *gin.Context, body []byte) {
	siteKey, n := ingest.Probe(body)
	s.metrics.dropped.WithLabelValues(models.ReasonBadShape).Add(float64(n))
	if siteKey == "" {
		return
	}
	p, err := s.projectBySiteKey(c, siteKey)
	if err != nil {
		return
	}
	if err := s.ingester.CountDropped(c, p.ID, models.ReasonBadShape, n); err != nil {
		s.logger.Warn("count dropped events", append(logAttrs(c), "err", err.Error())...)
	}
}

// readCollectBody reads the body of a page request (collect, classify, forget) within the
// contract's limit.
func readCollectBody(c *gin.Context) ([]byte, error) {
	ct := strings.ToLower(strings.TrimSpace(strings.Split(c.GetHeader("Content-Type"), ";")[0]))
	if ct != "" && ct != "text/plain" && ct != "application/json" {
		return nil, errStatus(http.StatusUnsupportedMediaType, "unsupported_media_type", "send text/plain or application/json")
	}
	if c.Request.ContentLength > maxCollectBody {
		return nil, errStatus(http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body larger than %d bytes", maxCollectBody))
	}
	b, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxCollectBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errStatus(http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body larger than %d bytes", maxCollectBody))
		}
		return nil, badRequest("could not read the body")
	}
	return b, nil
}
