package jobs

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"personas/classifier"
	"personas/enrichment"
	"personas/models"
	"personas/privacy"
)

// Task types of the modelling pipeline.
const (
	TypeTrainModel = "model:train"
	TypeReclassify = "visitors:reclassify"
)

// ProjectPayload names a project; the training task carries nothing else, so asynq's
// uniqueness makes training one-at-a-time per project.
type ProjectPayload struct {
	Version   int       `json:"v"`
	ProjectID uuid.UUID `json:"project_id"`
}

func projectPayload(id uuid.UUID) []byte {
	b, _ := json.Marshal(ProjectPayload{Version: 1, ProjectID: id})
	return b
}

// NewTrainModelTask builds a training task: default queue, unique per project while queued
// or running, bounded time, few retries (a failed training is retried by the next request or
// the scheduler, not hammered).
func NewTrainModelTask(projectID uuid.UUID) (*asynq.Task, []asynq.Option) {
	return asynq.NewTask(TypeTrainModel, projectPayload(projectID)), []asynq.Option{
		asynq.Queue(QueueDefault), asynq.Unique(30 * time.Minute), asynq.Timeout(20 * time.Minute), asynq.MaxRetry(2),
	}
}

// EnqueueTrain asks for a training of the project now.
func (c *Client) EnqueueTrain(ctx context.Context, projectID uuid.UUID) error {
	t, opts := NewTrainModelTask(projectID)
	_, err := c.Enqueue(ctx, t, opts...)
	return err
}

// EnqueueRetrain schedules the debounced retrain after visitor erasures: the first erasure
// schedules it after delay; later ones find it scheduled (the same unique task).
func (c *Client) EnqueueRetrain(ctx context.Context, projectID uuid.UUID, delay time.Duration) error {
	t := asynq.NewTask(TypeTrainModel, projectPayload(projectID))
	_, err := c.Enqueue(ctx, t, asynq.Queue(QueueDefault), asynq.ProcessIn(delay), asynq.Unique(delay+30*time.Minute),
		asynq.Timeout(20*time.Minute), asynq.MaxRetry(5))
	return err
}

func decodeProject(t *asynq.Task) (uuid.UUID, error) {
	var p ProjectPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.ProjectID == uuid.Nil {
		return uuid.Nil, fmt.Errorf("decode %s payload: %w", t.Type(), asynq.SkipRetry)
	}
	return p.ProjectID, nil
}

// Aggregates converts stored aggregates to the classifier's input.
func Aggregates(f *models.VisitorFeatures) classifier.Aggregates {
	return classifier.Aggregates{
		Visits: f.Visits, PageViews: f.PageViews, Clicks: f.Clicks, Goals: f.Goals, Bounces: f.TotalBounces(),
		TimeMS: f.TimeMS, ScrollSum: f.ScrollSum, ScrollCount: f.ScrollCount, FirstSeen: f.FirstSeen,
		LastSeen: f.LastSeen, ActiveDays: f.ActiveDays, Paths: f.Paths, Elements: f.Elements, Channels: f.Channels,
		Devices: f.Devices, GoalNames: f.GoalNames, Hours: f.Hours, Weekdays: f.Weekdays,
	}
}

// Trainer trains and publishes persona models.
type Trainer struct {
	Store  *models.Store
	Client *Client
	Signer *privacy.Signer
	Logger *slog.Logger
	// Options are the classifier's settings (zero: its defaults).
	Options classifier.TrainOptions
}

// ProcessTask trains the project's model from its visitors and publishes it.
func (tr *Trainer) ProcessTask(ctx context.Context, t *asynq.Task) error {
	pid, err := decodeProject(t)
	if err != nil {
		return err
	}
	_, err = tr.Train(ctx, pid)
	return err
}

// TrainingSet is a project's visitors as the classifier sees them.
type TrainingSet struct {
	Hashes [][]byte
	Pop    []classifier.Aggregates
}

// LoadTrainingSet reads every visitor's aggregates.
func LoadTrainingSet(ctx context.Context, store *models.Store, projectID uuid.UUID) (*TrainingSet, error) {
	ts := &TrainingSet{}
	err := store.EachVisitorFeatures(ctx, projectID, func(f *models.VisitorFeatures) error {
		ts.Hashes = append(ts.Hashes, f.VisitorHash)
		ts.Pop = append(ts.Pop, Aggregates(f))
		return nil
	})
	return ts, err
}

// Train runs one training of a project and returns the published version (0 when the data did
// not allow a model; the training run says why).
func (tr *Trainer) Train(ctx context.Context, projectID uuid.UUID) (int, error) {
	if _, err := tr.Store.Project(ctx, projectID); err != nil {
		if errors.Is(err, models.ErrNotFound) {
			return 0, fmt.Errorf("train project %s: %w", projectID, asynq.SkipRetry)
		}
		return 0, err
	}
	ts, err := LoadTrainingSet(ctx, tr.Store, projectID)
	if err != nil {
		return 0, err
	}
	opts := tr.Options
	opts.Seed = binary.BigEndian.Uint64(projectID[:8])
	prevVersion, err := tr.Store.CurrentModelVersion(ctx, projectID)
	var prevPersonas map[int]uuid.UUID
	switch {
	case err == nil:
		if prev, perr := tr.loadModel(ctx, projectID, prevVersion); perr == nil {
			members, merr := tr.Store.ModelMembers(ctx, projectID, prevVersion)
			if merr != nil {
				return 0, merr
			}
			labels := make([]int, len(ts.Hashes))
			for i, h := range ts.Hashes {
				if c, ok := members[string(h)]; ok {
					labels[i] = c
				} else {
					labels[i] = -1
				}
			}
			opts.Prev, opts.PrevLabels = prev, labels
			if prevPersonas, err = tr.Store.PersonaIDsByCluster(ctx, projectID, prevVersion); err != nil {
				return 0, err
			}
		} else {
			tr.Logger.Error("previous model unreadable; training without matching", "project_id", projectID, "err", perr.Error())
		}
	case !errors.Is(err, models.ErrNotFound):
		return 0, err
	}
	now := tr.Store.Now()
	res, err := classifier.Train(ts.Pop, now, opts)
	if err != nil {
		if errors.Is(err, classifier.ErrTooLittleData) || errors.Is(err, classifier.ErrDegenerate) || errors.Is(err, classifier.ErrInvalidInput) {
			reason := err.Error()
			_ = tr.Store.FinishTrainingRuns(ctx, projectID, uuid.Nil, "skipped", reason)
			tr.Logger.Info("training skipped", "project_id", projectID, "reason", reason)
			return 0, nil
		}
		_ = tr.Store.FinishTrainingRuns(ctx, projectID, uuid.Nil, "failed", err.Error())
		return 0, err
	}
	pub, err := tr.publication(projectID, ts, res, prevPersonas)
	if err != nil {
		return 0, err
	}
	version, err := tr.Store.PublishModel(ctx, pub)
	if err != nil {
		return 0, err
	}
	tr.Logger.Info("model published", "project_id", projectID, "version", version, "k", res.Model.K, "visitors", len(ts.Hashes))
	tr.afterPublish(ctx, projectID, version, pub)
	return version, nil
}

func (tr *Trainer) loadModel(ctx context.Context, projectID uuid.UUID, version int) (*classifier.Model, error) {
	blob, err := tr.Store.ModelBlob(ctx, projectID, version)
	if err != nil {
		return nil, err
	}
	return classifier.UnmarshalModel(blob)
}

func (tr *Trainer) publication(projectID uuid.UUID, ts *TrainingSet, res *classifier.Result, prevPersonas map[int]uuid.UUID) (models.Publication, error) {
	blob, err := res.Model.MarshalBinary()
	if err != nil {
		return models.Publication{}, fmt.Errorf("serialise model: %w", err)
	}
	metrics, _ := json.Marshal(res.Model.Metrics)
	pub := models.Publication{ProjectID: projectID, Blob: blob, K: res.Model.K, Metrics: metrics,
		Members: ts.Hashes, Labels: res.Labels}
	var taken []string
	used := map[uuid.UUID]bool{}
	for j := 0; j < res.Model.K; j++ {
		st := res.Model.Personas[j]
		traits, _ := json.Marshal(st)
		pp := models.PublishedPersona{Cluster: j, Share: st.Share, Size: int64(st.Size), Traits: traits}
		if j < len(res.Match) && res.Match[j] >= 0 {
			if id, ok := prevPersonas[res.Match[j]]; ok && !used[id] {
				pp.ID = id
				if s := res.Stability[j]; s >= 0 {
					pp.Stability = &s
				}
				if dr := res.Drift[j]; dr >= 0 {
					pp.Drift = &dr
				}
			}
		}
		if pp.ID == uuid.Nil {
			pp.ID, pp.New = uuid.New(), true
			in := EnrichmentInput(pp.ID, st, enrichment.BusinessContext{})
			in.Taken = taken
			r := enrichment.RuleName(in)
			taken = append(taken, r.Name)
			pp.Naming = namingOf(r)
			pp.Picture = enrichment.Avatar(pp.ID.String(), r.Type)
		}
		used[pp.ID] = true
		pub.Personas = append(pub.Personas, pp)
	}
	return pub, nil
}

func namingOf(r enrichment.Result) models.Naming {
	return models.Naming{Name: r.Name, Type: r.Type, Tagline: r.Tagline, Summary: r.Summary, Goals: r.Goals,
		Frustrations: r.Frustrations, SuggestedActions: r.SuggestedActions, NamedBy: r.NamedBy}
}

// EnrichmentInput turns a persona's aggregates into the enrichment input.
func EnrichmentInput(id uuid.UUID, st classifier.PersonaStats, bc enrichment.BusinessContext) enrichment.Input {
	shares := func(in []classifier.Share) []enrichment.Share {
		out := make([]enrichment.Share, len(in))
		for i, s := range in {
			out[i] = enrichment.Share{Key: s.Key, Share: s.Share}
		}
		return out
	}
	in := enrichment.Input{PersonaID: id.String(), Size: st.Size, Share: st.Share, TopPaths: shares(st.TopPaths),
		Channels: shares(st.Channels), Devices: shares(st.Devices), Hours: shares(st.Hours), Goals: shares(st.Goals),
		Context: bc}
	for _, t := range st.Traits {
		in.Traits = append(in.Traits, enrichment.Trait{Feature: t.Feature, Value: t.Value, Population: t.Population, Z: t.Z})
	}
	return in
}

// afterPublish starts what follows a publication: assignments, enrichment of new or drifted
// personas, and the receipts of erasures this retrain completes. Failures are logged: the
// model is published and the periodic jobs catch up.
func (tr *Trainer) afterPublish(ctx context.Context, projectID uuid.UUID, version int, pub models.Publication) {
	t := asynq.NewTask(TypeReclassify, projectPayload(projectID))
	if _, err := tr.Client.Enqueue(ctx, t, asynq.Queue(QueueLow), asynq.Unique(30*time.Minute), asynq.Timeout(30*time.Minute)); err != nil {
		tr.Logger.Warn("enqueue reclassify", "project_id", projectID, "err", err.Error())
	}
	for _, pp := range pub.Personas {
		if pp.New || (pp.Stability != nil && *pp.Stability < 0.8) {
			if err := tr.Client.EnqueueEnrich(ctx, projectID, pp.ID); err != nil {
				tr.Logger.Warn("enqueue enrichment", "project_id", projectID, "err", err.Error())
			}
		}
	}
	if tr.Signer != nil {
		if err := ResignReceipts(ctx, tr.Store, tr.Signer, projectID); err != nil {
			tr.Logger.Warn("re-sign receipts", "project_id", projectID, "err", err.Error())
		}
	}
}

// ResignReceipts adds the retrain version to the receipts of erasures it completed, and signs
// them again.
func ResignReceipts(ctx context.Context, store *models.Store, signer *privacy.Signer, projectID uuid.UUID) error {
	ids, err := store.ReceiptsAwaitingResign(ctx, projectID)
	if err != nil {
		return err
	}
	for _, id := range ids {
		d, err := store.Deletion(ctx, id)
		if err != nil {
			return err
		}
		var r Receipt
		if err := json.Unmarshal(d.Receipt, &r); err != nil {
			return fmt.Errorf("decode receipt %s: %w", id, err)
		}
		r.RetrainVersion = d.RetrainVersion
		body, sig, err := SignReceipt(r, signer)
		if err != nil {
			return err
		}
		if err := store.UpdateReceipt(ctx, id, body, sig); err != nil {
			return err
		}
	}
	return nil
}

// Reclassifier writes every visitor's persona under the newest model.
type Reclassifier struct {
	Store  *models.Store
	Logger *slog.Logger
}

// ProcessTask classifies the project's visitors in batches.
func (rc *Reclassifier) ProcessTask(ctx context.Context, t *asynq.Task) error {
	pid, err := decodeProject(t)
	if err != nil {
		return err
	}
	version, err := rc.Store.CurrentModelVersion(ctx, pid)
	if errors.Is(err, models.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	blob, err := rc.Store.ModelBlob(ctx, pid, version)
	if err != nil {
		return err
	}
	m, err := classifier.UnmarshalModel(blob)
	if err != nil {
		return fmt.Errorf("model %d of %s unreadable: %v: %w", version, pid, err, asynq.SkipRetry)
	}
	ids, err := rc.Store.PersonaIDsByCluster(ctx, pid, version)
	if err != nil {
		return err
	}
	now := rc.Store.Now()
	var hashes [][]byte
	var personas []*uuid.UUID
	var conf []float32
	flush := func() error {
		err := rc.Store.UpsertAssignments(ctx, pid, hashes, personas, conf, version)
		hashes, personas, conf = hashes[:0], personas[:0], conf[:0]
		return err
	}
	err = rc.Store.EachVisitorFeatures(ctx, pid, func(f *models.VisitorFeatures) error {
		a := m.Classify(Aggregates(f), now)
		var p *uuid.UUID
		if id, ok := ids[a.Cluster]; ok && !a.Outlier {
			p = &id
		}
		hashes, personas, conf = append(hashes, f.VisitorHash), append(personas, p), append(conf, float32(a.Confidence))
		if len(hashes) >= 5000 {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}
