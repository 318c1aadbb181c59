package api

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"personas/ingest"
	"personas/models"
)

const (
	maxImportLine   = 16 << 10
	importBatchSize = 2000
	maxImportErrors = 100
	// importIdleTimeout is how long an import may go without a committed batch.
	importIdleTimeout = 60 * time.Second
)

type importError struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// importEvents streams NDJSON through ingest's import pass in batches (bounded memory whatever
// the size) and reports accepted and rejected lines. Events older than the project's event
// retention are rejected; the rest of the pipeline (scrubbing, counters) is collect's.
func (s *Server) importEvents(c *gin.Context) {
	p := projectFrom(c)
	now := s.store.Now().UTC()
	im := ingest.NewImport(s.store.Index(), p, now)
	sc := bufio.NewScanner(c.Request.Body)
	// The buffer's capacity must not exceed maxImportLine: the scanner takes the larger of the two.
	sc.Buffer(make([]byte, 0, 4<<10), maxImportLine)
	// An import streams for as long as it has lines, beyond the server's read and write
	// timeouts: they are pushed back every thousand lines instead, so only a stalled client
	// is cut off.
	rc := http.NewResponseController(c.Writer)
	extend := func() {
		_ = rc.SetReadDeadline(time.Now().Add(importIdleTimeout))
		_ = rc.SetWriteDeadline(time.Now().Add(2 * importIdleTimeout))
	}
	extend()
	var (
		accepted, rejected int64
		errs               []importError
		reasons            = map[string]int64{}
		batch              = &models.Batch{ProjectID: p.ID, Day: now, Dropped: map[string]int64{}, ByEventDay: true}
	)
	reject := func(line int, reason string) {
		rejected++
		reasons[reason]++
		if len(errs) < maxImportErrors {
			errs = append(errs, importError{line, reason})
		}
	}
	flush := func() error {
		if len(batch.Events) == 0 && len(batch.Dropped) == 0 {
			return nil
		}
		ctx, cancel := context.WithTimeout(c, 30*time.Second)
		defer cancel()
		if err := s.ingester.Submit(ctx, batch); err != nil {
			return err
		}
		accepted += int64(len(batch.Events))
		batch = &models.Batch{ProjectID: p.ID, Day: now, Dropped: map[string]int64{}, ByEventDay: true}
		return nil
	}
	line := 0
	for sc.Scan() {
		line++
		if line%1000 == 0 {
			extend()
		}
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		ev, rej := im.Line(raw)
		if rej != nil {
			reject(line, rej.Message)
			batch.Dropped[rej.Reason]++
			continue
		}
		batch.Events = append(batch.Events, ev)
		if len(batch.Events) >= importBatchSize {
			if err := flush(); err != nil {
				s.failImport(c, err, line, accepted)
				return
			}
		}
	}
	if err := sc.Err(); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.Is(err, bufio.ErrTooLong):
			s.fail(c, badRequest(fmt.Sprintf("line %d is longer than %d bytes; %d events were stored before it", line+1, maxImportLine, accepted)))
		case errors.As(err, &mbe):
			s.fail(c, errStatus(http.StatusRequestEntityTooLarge, "too_large", "import body too large"))
		case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, context.Canceled):
			s.fail(c, badRequest("the body ended early"))
		default:
			s.fail(c, badRequest("could not read the body"))
		}
		return
	}
	if err := flush(); err != nil {
		s.failImport(c, err, line, accepted)
		return
	}
	if line == 0 {
		s.fail(c, badRequest("empty body: one JSON event per line is expected"))
		return
	}
	if errs == nil {
		errs = []importError{}
	}
	s.audit(c, p.ID, "events.import", p.ID.String(), map[string]any{"accepted": accepted, "rejected": rejected})
	c.JSON(http.StatusOK, gin.H{"accepted": accepted, "rejected": rejected, "rejected_by_reason": reasons, "errors": errs})
}

func (s *Server) failImport(c *gin.Context, err error, line int, accepted int64) {
	if errors.Is(err, models.ErrUnavailable) {
		c.Header("Retry-After", "2")
		writeError(c, http.StatusServiceUnavailable, "unavailable",
			fmt.Sprintf("storage became unavailable at line %d; %d events before it were stored", line, accepted), "")
		return
	}
	s.fail(c, err)
}

// exportVisitor answers a data-subject access request: everything stored about one visitor,
// decrypted.
func (s *Server) exportVisitor(c *gin.Context) {
	p := projectFrom(c)
	vid := c.Param("visitor_id")
	if err := ingest.CheckID("visitor_id", vid); err != nil {
		s.fail(c, badRequest(err.Error()))
		return
	}
	exp, err := s.store.ExportVisitor(c, p.ID, s.store.VisitorHash(p.ID, vid))
	if err != nil {
		s.fail(c, err)
		return
	}
	s.audit(c, p.ID, "visitor.export", "visitor", nil)
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, exp)
}
