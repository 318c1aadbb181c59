package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"personas/ingest"
	"personas/models"
)

const (
	importBatchSize = 2000
	maxImportErrors = 100
	// importIdleTimeout is how long an import may go without a committed batch.
	importIdleTimeout = 60 * time.Second
)

// ImportError is one rejected record of an import: personas import prints them.
type ImportError struct {
	Line   int    `json:"line"` // the line (ndjson, ga4) or the visit (matomo), from 1
	Reason string `json:"reason"`
}

// ImportReport is the answer of an import, and of its dry run (docs/openapi.yaml, ImportReport);
// personas import and the tests read it.
type ImportReport struct {
	Format           ingest.Format    `json:"format"`
	DryRun           bool             `json:"dry_run"`
	Records          int64            `json:"records"`
	Accepted         int64            `json:"accepted"`
	Rejected         int64            `json:"rejected"`
	RejectedByReason map[string]int64 `json:"rejected_by_reason"`
	Skipped          int64            `json:"skipped"`
	Errors           []ImportError    `json:"errors"`
}

// importEvents streams an import file (?format=ndjson, the default, matomo or ga4) through
// ingest's import pass one record at a time and stores its events in batches (bounded memory
// whatever the size); it answers how many events were accepted, and rejected by reason. Events
// older than the project's event retention are rejected; the rest of the pipeline (scrubbing,
// counters) is collect's. With ?dry_run=true the same report comes without storing anything,
// not even the counters.
func (s *Server) importEvents(c *gin.Context) {
	p := projectFrom(c)
	format, err := ingest.ParseFormat(c.Query("format"))
	if err != nil {
		s.fail(c, errStatus(http.StatusBadRequest, "unknown_format", err.Error()))
		return
	}
	dryRun := false
	if v := c.Query("dry_run"); v != "" {
		if dryRun, err = strconv.ParseBool(v); err != nil {
			s.fail(c, badRequest("dry_run must be true or false"))
			return
		}
	}
	now := s.store.Now().UTC()
	src := ingest.NewSource(format, c.Request.Body, ingest.NewImport(s.store.Index(), p, now))
	// An import streams for as long as it has records, beyond the server's read and write
	// timeouts: they are pushed back every thousand records instead, so only a stalled client
	// is cut off.
	rc := http.NewResponseController(c.Writer)
	extend := func() {
		_ = rc.SetReadDeadline(time.Now().Add(importIdleTimeout))
		_ = rc.SetWriteDeadline(time.Now().Add(2 * importIdleTimeout))
	}
	extend()
	rep := ImportReport{Format: format, DryRun: dryRun, RejectedByReason: map[string]int64{}, Errors: []ImportError{}}
	newBatch := func() *models.Batch {
		return &models.Batch{ProjectID: p.ID, Day: now, Dropped: map[string]int64{}, ByEventDay: true}
	}
	batch := newBatch()
	flush := func() error {
		if len(batch.Events) == 0 && len(batch.Dropped) == 0 {
			return nil
		}
		if !dryRun {
			ctx, cancel := context.WithTimeout(c, 30*time.Second)
			defer cancel()
			if err := s.ingester.Submit(ctx, batch); err != nil {
				return err
			}
		}
		rep.Accepted += int64(len(batch.Events))
		batch = newBatch()
		return nil
	}
	last := 0
	for {
		rec, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			s.failImportStream(c, err, last, rep.Accepted, dryRun)
			return
		}
		last = rec.N
		rep.Records++
		if rep.Records%1000 == 0 {
			extend()
		}
		rep.Skipped += int64(rec.Skipped)
		for _, r := range rec.Rejected {
			rep.Rejected++
			rep.RejectedByReason[r.Reason]++
			batch.Dropped[r.Reason]++
			if len(rep.Errors) < maxImportErrors {
				rep.Errors = append(rep.Errors, ImportError{rec.N, r.Message})
			}
		}
		batch.Events = append(batch.Events, rec.Events...)
		if len(batch.Events) >= importBatchSize {
			if err := flush(); err != nil {
				s.failImport(c, err, last, rep.Accepted)
				return
			}
		}
	}
	if err := flush(); err != nil {
		s.failImport(c, err, last, rep.Accepted)
		return
	}
	if !dryRun {
		s.audit(c, p.ID, "events.import", p.ID.String(), map[string]any{"format": format, "accepted": rep.Accepted, "rejected": rep.Rejected})
	}
	c.JSON(http.StatusOK, rep)
}

// failImportStream answers an import file that could not be read on: what the file is
// instead, where it broke, and how many of its events were stored before that point (the
// batches committed before it stay; the batch in progress is not stored).
func (s *Server) failImportStream(c *gin.Context, err error, last int, accepted int64, dryRun bool) {
	stored := fmt.Sprintf("; %d events were stored before it", accepted)
	if dryRun {
		stored = "; dry run: nothing was stored"
	}
	var se *ingest.StreamError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &se):
		s.fail(c, errStatus(http.StatusBadRequest, se.Code, se.Message+stored))
	case errors.As(err, &mbe):
		s.fail(c, errStatus(http.StatusRequestEntityTooLarge, "too_large", "import body too large"+stored))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, context.Canceled):
		s.fail(c, errStatus(http.StatusBadRequest, "truncated", fmt.Sprintf("the body ended early, after record %d%s", last, stored)))
	default:
		s.fail(c, badRequest("could not read the body"+stored))
	}
}

func (s *Server) failImport(c *gin.Context, err error, line int, accepted int64) {
	if errors.Is(err, models.ErrUnavailable) {
		c.Header("Retry-After", "2")
		writeError(c, http.StatusServiceUnavailable, "unavailable",
			fmt.Sprintf("storage became unavailable at record %d; %d events before it were stored", line, accepted), "")
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
