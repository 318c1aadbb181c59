package ingest

import (
	"strconv"
	"time"

	"personas/models"
	"personas/privacy"
)

// Prepare is the server-side privacy pass of one collect request req, sent to project p at now
// by a browser whose User-Agent is userAgent: the batch models stores, every event either in
// Events or counted in Dropped under its reason. A visitor outside the project's sample has
// all its events dropped as sampled. index keys the visitor and session hashes. The site key,
// origin and rate checks come before it; req has passed ParsePayload.
func Prepare(index *privacy.BlindIndex, p models.Project, userAgent string, req *Payload, now time.Time) *models.Batch {
	batch := &models.Batch{ProjectID: p.ID, Day: now, Dropped: map[string]int64{}}
	if !sampledIn(req.VisitorID, p.SampleRate) {
		batch.Dropped[models.ReasonSampled] = int64(len(req.Events))
		return batch
	}
	norm := ForBrowser(index, p, userAgent, req.Context, now)
	batch.Events = make([]models.Event, 0, len(req.Events))
	for i := range req.Events {
		ev, reason := norm.Normalize(&req.Events[i], req.VisitorID, req.SessionID)
		if reason != "" {
			batch.Dropped[reason]++
			continue
		}
		batch.Events = append(batch.Events, ev)
	}
	return batch
}

// sampledIn decides, the same way as collector.js, whether a visitor is in the sample: the
// first 32 bits of the (random, hex) visitor id as a fraction of 2^32, below the rate. Ids that
// do not start with 8 hex digits (imports, other clients) use FNV-1a of the whole id.
func sampledIn(visitorID string, rate float64) bool {
	if rate >= 1 {
		return true
	}
	var h uint32
	if v, err := strconv.ParseUint(visitorID[:min(8, len(visitorID))], 16, 32); err == nil && len(visitorID) >= 8 {
		h = uint32(v)
	} else {
		h = 2166136261
		for i := 0; i < len(visitorID); i++ {
			h ^= uint32(visitorID[i])
			h *= 16777619
		}
	}
	return float64(h)/4294967296.0 < rate
}
