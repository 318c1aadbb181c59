package api

import (
	"context"
	"encoding/hex"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"personas/ingest"
	"personas/models"
	"personas/receipt"
)

type deletionRequest struct {
	Scope     string `json:"scope"`
	VisitorID string `json:"visitor_id"`
}

// deletionView is a deletion as the API shows it: no visitor hash beyond its hex form.
type deletionView struct {
	ID             uuid.UUID        `json:"id"`
	ProjectID      uuid.UUID        `json:"project_id"`
	Scope          string           `json:"scope"`
	Status         string           `json:"status"`
	Step           string           `json:"step,omitempty"`
	Counts         map[string]int64 `json:"counts"`
	Error          string           `json:"error,omitempty"`
	KeyDestroyedAt any              `json:"key_destroyed_at"`
	RetrainVersion *int             `json:"retrain_version"`
	CreatedAt      any              `json:"created_at"`
	StartedAt      any              `json:"started_at"`
	FinishedAt     any              `json:"finished_at"`
	HasReceipt     bool             `json:"has_receipt"`
}

func viewDeletion(d models.Deletion) deletionView {
	return deletionView{ID: d.ID, ProjectID: d.ProjectID, Scope: d.Scope, Status: d.Status, Step: d.Step,
		Counts: d.Counts, Error: d.Error, KeyDestroyedAt: d.KeyDestroyedAt, RetrainVersion: d.RetrainVersion,
		CreatedAt: d.CreatedAt, StartedAt: d.StartedAt, FinishedAt: d.FinishedAt, HasReceipt: len(d.Signature) > 0}
}

// createDeletion records a deletion and enqueues its cascade: visitor and personas scopes for
// admins, the whole project for its owner.
func (s *Server) createDeletion(c *gin.Context) {
	var req deletionRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	p := projectFrom(c)
	var hash []byte
	switch req.Scope {
	case models.ScopeVisitor:
		if err := ingest.CheckID("visitor_id", req.VisitorID); err != nil {
			s.fail(c, models.Invalid("visitor_id", "required for scope visitor, at most 128 characters"))
			return
		}
		hash = s.store.VisitorHash(p.ID, req.VisitorID)
	case models.ScopePersonas:
	case models.ScopeAll:
		if !s.need(c, actDeleteProject) {
			return
		}
	default:
		s.fail(c, models.Invalid("scope", "must be visitor, personas or all"))
		return
	}
	d, err := s.startDeletion(c, p, req.Scope, hash, "api")
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"id": d.ID, "status": d.Status})
}

// startDeletion records a checked deletion request of the caller, audits it, evicts the
// project's caches and enqueues the cascade (the API and the dashboard's form share it).
func (s *Server) startDeletion(c *gin.Context, p models.Project, scope string, hash []byte, origin string) (models.Deletion, error) {
	by := principalFrom(c).UserID
	d, err := s.store.CreateDeletion(c, p.ID, scope, hash, &by, origin)
	if err != nil {
		return models.Deletion{}, err
	}
	s.audit(c, p.ID, "deletion.create", d.ID.String(), map[string]any{"scope": d.Scope})
	s.EvictProject(p.SiteKey)
	s.classifySvc.Forget(p.ID, hash)
	if err := s.jobs.EnqueueDeletion(c, d.ID); err != nil {
		// The row is committed; the periodic safety net enqueues it again.
		s.logger.Warn("enqueue deletion", append(logAttrs(c), "deletion_id", d.ID, "err", err.Error())...)
	}
	return d, nil
}

func (s *Server) listDeletions(c *gin.Context) {
	ds, err := s.store.Deletions(c, projectFrom(c).ID, 100)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]deletionView, len(ds))
	for i, d := range ds {
		out[i] = viewDeletion(d)
	}
	c.JSON(http.StatusOK, gin.H{"deletions": out})
}

// deletionFor finds a deletion of the project in the path. It works after the project itself
// is gone for the user who asked and for platform admins: the deletion row is the proof.
func (s *Server) deletionFor(c *gin.Context) (models.Deletion, bool) {
	d, err := s.deletionAccess(c)
	if err != nil {
		s.fail(c, err)
		return models.Deletion{}, false
	}
	return d, true
}

// deletionAccess is deletionFor's rule, shared with the dashboard's deletion page.
func (s *Server) deletionAccess(c *gin.Context) (models.Deletion, error) {
	pid, err1 := uuid.Parse(c.Param("id"))
	did, err2 := uuid.Parse(c.Param("did"))
	if err1 != nil || err2 != nil {
		return models.Deletion{}, models.ErrNotFound
	}
	d, err := s.store.Deletion(c, did)
	if err != nil || d.ProjectID != pid {
		return models.Deletion{}, models.ErrNotFound
	}
	p := principalFrom(c)
	if p.PlatformAdmin || (d.RequestedBy != nil && *d.RequestedBy == p.UserID) {
		return d, nil
	}
	role, err := s.store.RoleOf(c, pid, p.UserID)
	if err != nil {
		return models.Deletion{}, err
	}
	switch {
	case role == models.RoleNone:
		return models.Deletion{}, models.ErrNotFound // another tenant's deletion does not exist
	case !may(role, actManageDeletions):
		return models.Deletion{}, models.ErrForbidden // a member below admin: the role table's 403
	}
	return d, nil
}

func (s *Server) getDeletion(c *gin.Context) {
	d, ok := s.deletionFor(c)
	if !ok {
		return
	}
	c.JSON(http.StatusOK, viewDeletion(d))
}

// getReceipt returns the signed receipt: the receipt as signed and a detached signature.
func (s *Server) getReceipt(c *gin.Context) {
	d, ok := s.deletionFor(c)
	if !ok {
		return
	}
	if len(d.Signature) == 0 {
		s.fail(c, errStatus(http.StatusConflict, "not_finished", "the deletion has not finished; its receipt comes when it does"))
		return
	}
	c.Header("Content-Disposition", `attachment; filename="receipt-`+d.ID.String()+`.json"`)
	c.JSON(http.StatusOK, receipt.Document(d, s.signer.PublicKey()))
}

// receiptKey publishes the public key that signs receipts.
func (s *Server) receiptKey(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"algorithm": "ed25519", "public_key": hex.EncodeToString(s.signer.PublicKey()),
		"key_id": s.signer.KeyID()})
}

type forgetRequest struct {
	SiteKey   string `json:"site_key"`
	VisitorID string `json:"visitor_id"`
}

// decodeBeacon reads the body of a request from the customers' pages (classify, forget) into
// req, strictly, and checks its site key and visitor id, which point into req. It answers 400
// and reports false when the body is not one.
func (s *Server) decodeBeacon(c *gin.Context, req any, siteKey, visitorID *string) bool {
	body, err := readCollectBody(c)
	if err != nil {
		s.fail(c, err)
		return false
	}
	if err := strictUnmarshal(body, req); err != nil {
		s.fail(c, badRequest(err.Error()))
		return false
	}
	for _, id := range []struct{ field, value string }{{"site_key", *siteKey}, {"visitor_id", *visitorID}} {
		if err := ingest.CheckID(id.field, id.value); err != nil {
			s.fail(c, badRequest(err.Error()))
			return false
		}
	}
	return true
}

// forget is a visitor's own erasure request from the site: same origin rules as collect,
// answered 202 and run as a visitor deletion.
func (s *Server) forget(c *gin.Context) {
	var req forgetRequest
	if !s.decodeBeacon(c, &req, &req.SiteKey, &req.VisitorID) {
		return
	}
	p, ok := s.siteGate(c, forgetSite, req.SiteKey, 0)
	if !ok {
		return
	}
	hash := s.store.VisitorHash(p.ID, req.VisitorID)
	// A visitor never seen records nothing (forged requests would fill the deletion log), and
	// gets the same answer as a known one, as late as a known one's, so the answer does not
	// tell whether it exists.
	start := time.Now()
	d, known, err := s.store.ForgetVisitor(c, p.ID, hash)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.classifySvc.Forget(p.ID, hash)
	if known {
		if err := s.jobs.EnqueueDeletion(c, d.ID); err != nil {
			s.logger.Warn("enqueue deletion", append(logAttrs(c), "deletion_id", d.ID, "err", err.Error())...)
		}
		s.forgetPace.observe(time.Since(start))
	} else {
		s.forgetPace.wait(c, start)
	}
	c.JSON(http.StatusAccepted, gin.H{"id": d.ID, "status": d.Status})
}

// pace is the running time of forgets of known visitors (which commit a deletion and enqueue
// it); a forget of an unknown visitor, which writes nothing, waits until as long has passed.
type pace struct {
	mu  sync.Mutex
	avg time.Duration
}

// paceDefault stands in until a known visitor's forget was timed; maxPace bounds the wait.
const (
	paceDefault = 5 * time.Millisecond
	maxPace     = 250 * time.Millisecond
)

func (p *pace) observe(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.avg == 0 {
		p.avg = d
		return
	}
	p.avg += (d - p.avg) / 32 // slow: one slow commit under load must not swing it
}

// wait sleeps until the typical known forget begun at start would have finished, with a
// little jitter, or until ctx ends.
func (p *pace) wait(ctx context.Context, start time.Time) {
	p.mu.Lock()
	target := p.avg
	p.mu.Unlock()
	if target == 0 {
		target = paceDefault
	}
	target = min(target, maxPace)
	target += time.Duration(rand.Int64N(int64(target)/8 + 1))
	left := time.Until(start.Add(target))
	if left <= 0 {
		return
	}
	t := time.NewTimer(left)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
