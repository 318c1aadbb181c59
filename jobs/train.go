package jobs

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"personas/classifier"
	"personas/classify"
	"personas/enrichment"
	"personas/jobs/queue"
	"personas/models"
	"personas/receipt"
)

func decodeProject(t *asynq.Task) (uuid.UUID, error) {
	var p queue.ProjectPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.ProjectID == uuid.Nil {
		return uuid.Nil, fmt.Errorf("decode %s payload: %w", t.Type(), asynq.SkipRetry)
	}
	return p.ProjectID, nil
}

// Trainer trains and publishes persona models.
type Trainer struct {
	Store  *models.Store
	Client *queue.Client
	Signer *receipt.Signer
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
	if errors.Is(err, models.ErrNotFound) {
		// Deleted since the training was queued: nothing is left to train, and nothing failed.
		tr.Logger.Info("training skipped: the project no longer exists", "project_id", pid)
		return nil
	}
	return err
}

// TrainTimings are where a training's time went, logged with the publication.
type TrainTimings struct {
	List    time.Duration // snapshot's hashes and the previous version's members
	Read    time.Duration // the classifier's passes over the snapshot (PostgreSQL, decoding, feature vectors)
	Train   time.Duration // scaling, clustering, matching
	Publish time.Duration // PublishModel: model, members, personas
}

// HashSize is the length of a visitor hash (HMAC-SHA-256).
const HashSize = 32

// TrainingSet is the visitors of one training, in the order of the model's rows: their hashes,
// increasing, side by side in one arena (32 MB for a million visitors, where a slice per hash
// would cost twice that and a million allocations).
type TrainingSet struct {
	Hashes []byte // visitor i's hash is Hashes[i*HashSize : (i+1)*HashSize], increasing
}

// Len is the number of visitors.
func (ts *TrainingSet) Len() int { return len(ts.Hashes) / HashSize }

// Hash is visitor i's hash.
func (ts *TrainingSet) Hash(i int) []byte {
	return ts.Hashes[i*HashSize : (i+1)*HashSize : (i+1)*HashSize]
}

// Index finds a hash by binary search, or returns -1.
func (ts *TrainingSet) Index(hash []byte) int {
	i, ok := sort.Find(ts.Len(), func(i int) int { return bytes.Compare(hash, ts.Hash(i)) })
	if !ok {
		return -1
	}
	return i
}

// LoadTrainingSet reads the hashes of the snapshot's visitors (in the table's order, cheap for
// PostgreSQL) and sorts them in place.
func LoadTrainingSet(ctx context.Context, snap *models.FeatureSnapshot) (*TrainingSet, error) {
	ts := &TrainingSet{}
	err := snap.EachHash(ctx, func(h []byte) error {
		if len(h) != HashSize {
			return fmt.Errorf("visitor hash of %d bytes, want %d", len(h), HashSize)
		}
		ts.Hashes = append(ts.Hashes, h...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	ts.Hashes = slices.Clip(ts.Hashes)
	sort.Sort(hashOrder{ts})
	for i := 1; i < ts.Len(); i++ {
		if bytes.Equal(ts.Hash(i-1), ts.Hash(i)) {
			return nil, fmt.Errorf("visitor hash %x listed twice", ts.Hash(i)[:4])
		}
	}
	return ts, nil
}

// hashOrder sorts a set's arena by hash.
type hashOrder struct{ *TrainingSet }

func (o hashOrder) Less(i, j int) bool { return bytes.Compare(o.Hash(i), o.Hash(j)) < 0 }
func (o hashOrder) Swap(i, j int) {
	a, b := (*[HashSize]byte)(o.Hash(i)), (*[HashSize]byte)(o.Hash(j))
	*a, *b = *b, *a
}

// Source streams the snapshot's aggregates to the classifier in the table's order, each visitor
// with its position in the set; the classifier checks that every pass gives every position once.
// A position is found by binary search once, then remembered by the row's rank in the pass: the
// next pass, in the same order, only confirms it.
func (ts *TrainingSet) Source(ctx context.Context, snap *models.FeatureSnapshot) classifier.IndexedSource {
	var ranks []int32 // position of the k-th row of the last pass
	return func(yield func(int, *classifier.Aggregates) error) error {
		var a classifier.Aggregates
		k := 0
		return snap.Each(ctx, func(f *models.VisitorFeatures) error {
			i := -1
			if k < len(ranks) && bytes.Equal(f.VisitorHash, ts.Hash(int(ranks[k]))) {
				i = int(ranks[k])
			} else if i = ts.Index(f.VisitorHash); i < 0 {
				return fmt.Errorf("visitor %x of the snapshot is not one its hashes listed", f.VisitorHash[:min(4, len(f.VisitorHash))])
			}
			if k < len(ranks) {
				ranks[k] = int32(i)
			} else if k < ts.Len() {
				ranks = append(ranks, int32(i))
			}
			k++
			a = classify.Aggregates(f)
			return yield(i, &a)
		})
	}
}

// prevLabels is, per visitor of ts, its cluster in the previous version (-1 when it was not a
// member), read from the stream of members.
func (tr *Trainer) prevLabels(ctx context.Context, projectID uuid.UUID, version int, ts *TrainingSet) ([]int, error) {
	labels := make([]int, ts.Len())
	for i := range labels {
		labels[i] = -1
	}
	err := tr.Store.EachModelMember(ctx, projectID, version, func(h []byte, c int) error {
		if i := ts.Index(h); i >= 0 {
			labels[i] = c
		}
		return nil
	})
	return labels, err
}

// Train runs one training of a project and returns the published version (0 when the data did
// not allow a model; the training run says why).
func (tr *Trainer) Train(ctx context.Context, projectID uuid.UUID) (int, error) {
	if _, err := tr.Store.Project(ctx, projectID); err != nil {
		if errors.Is(err, models.ErrNotFound) {
			return 0, fmt.Errorf("train project %s: %w: %w", projectID, models.ErrNotFound, asynq.SkipRetry)
		}
		return 0, err
	}
	opts := tr.Options
	opts.Seed = binary.BigEndian.Uint64(projectID[:8])
	prevVersion, err := tr.Store.CurrentModelVersion(ctx, projectID)
	var prev *classifier.Model
	var prevPersonas map[int]uuid.UUID
	switch {
	case err == nil:
		l, perr := classify.LoadModel(ctx, tr.Store, projectID, prevVersion)
		switch {
		case perr == nil:
			prev, prevPersonas = l.Model, l.PersonaIDs
		case errors.Is(perr, classify.ErrUnreadable):
			tr.Logger.Error("previous model unreadable; training without matching", "project_id", projectID, "err", perr.Error())
		default:
			return 0, perr
		}
	case !errors.Is(err, models.ErrNotFound):
		return 0, err
	}
	now := tr.Store.Now()
	// The visitors are read in passes from one snapshot, never held: a million visitors' maps
	// would take gigabytes (see docs/perf.md ("Training a million visitors")).
	var ts *TrainingSet
	var res *classifier.Result
	var phase TrainTimings
	started := time.Now()
	err = tr.Store.ReadFeatureSnapshot(ctx, projectID, func(snap *models.FeatureSnapshot) error {
		var err error
		if ts, err = LoadTrainingSet(ctx, snap); err != nil {
			return err
		}
		if prev != nil {
			if opts.PrevLabels, err = tr.prevLabels(ctx, projectID, prevVersion, ts); err != nil {
				return err
			}
			opts.Prev = prev
		}
		phase.List = time.Since(started)
		src := ts.Source(ctx, snap)
		res, err = classifier.TrainIndexed(ts.Len(), func(yield func(int, *classifier.Aggregates) error) error {
			t := time.Now()
			defer func() { phase.Read += time.Since(t) }()
			return src(yield)
		}, now, opts)
		return err
	})
	phase.Train = time.Since(started) - phase.List - phase.Read
	if err != nil {
		if errors.Is(err, classifier.ErrTooLittleData) || errors.Is(err, classifier.ErrDegenerate) || errors.Is(err, classifier.ErrInvalidInput) {
			reason := err.Error()
			_ = tr.Store.FinishTrainingRuns(ctx, projectID, uuid.Nil, "skipped", reason)
			tr.Logger.Info("training skipped", "project_id", projectID, "reason", reason)
			return 0, nil
		}
		_ = tr.Store.FinishTrainingRuns(ctx, projectID, uuid.Nil, "failed", err.Error())
		return 0, fmt.Errorf("train project %s: %w", projectID, err)
	}
	// New personas are named apart from the current ones, which keep their names when matched
	// (names are unique among a project's current personas).
	current, err := tr.Store.TakenNames(ctx, projectID, uuid.Nil)
	if err != nil {
		return 0, err
	}
	labels, err := tr.Store.PageLabels(ctx, projectID)
	if err != nil {
		return 0, err
	}
	pub, err := tr.publication(projectID, ts, res, prevPersonas, current, labels)
	if err != nil {
		return 0, err
	}
	published := time.Now()
	version, err := tr.Store.PublishModel(ctx, pub)
	if err != nil {
		return 0, err
	}
	phase.Publish = time.Since(published)
	tr.Logger.Info("model published", "project_id", projectID, "version", version, "k", res.Model.K, "visitors", ts.Len(),
		slog.Group("seconds", "list", phase.List.Seconds(), "read", phase.Read.Seconds(), "train", phase.Train.Seconds(),
			"publish", phase.Publish.Seconds()))
	tr.afterPublish(ctx, projectID, version, pub)
	return version, nil
}

func (tr *Trainer) publication(projectID uuid.UUID, ts *TrainingSet, res *classifier.Result, prevPersonas map[int]uuid.UUID, current []string, labels models.PageLabels) (models.Publication, error) {
	blob, err := res.Model.MarshalBinary()
	if err != nil {
		return models.Publication{}, fmt.Errorf("serialise model: %w", err)
	}
	metrics, _ := json.Marshal(res.Model.Metrics)
	members := make([][]byte, ts.Len())
	for i := range members {
		members[i] = ts.Hash(i)
	}
	// A noise visitor's label is -1: it stays a member (it was trained on, so its erasure must
	// reach this model), counted in no persona; the next training reads -1 as "no persona".
	pub := models.Publication{ProjectID: projectID, Blob: blob, K: res.Model.K, Metrics: metrics,
		Members: members, Labels: res.Labels}
	taken := slices.Clone(current)
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
			in.Taken, in.PageLabels = taken, labels
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
	for _, g := range st.GoalLifts {
		in.GoalLifts = append(in.GoalLifts, enrichment.GoalLift{Goal: g.Goal, Visitors: g.Visitors, Rate: g.Rate,
			PopulationRate: g.PopulationRate, Lift: g.Lift, Low: g.Low, High: g.High})
	}
	return in
}

// afterPublish starts what follows a publication: assignments, enrichment of new or drifted
// personas (the others are described again under their names), and the receipts of erasures this retrain completes. Failures are logged: the
// model is published and the periodic jobs catch up.
func (tr *Trainer) afterPublish(ctx context.Context, projectID uuid.UUID, version int, pub models.Publication) {
	if err := tr.Client.EnqueueReclassify(ctx, projectID); err != nil {
		tr.Logger.Warn("enqueue reclassify", "project_id", projectID, "err", err.Error())
	}
	for _, pp := range pub.Personas {
		// New or much changed personas are named afresh; the others keep their names, and their
		// texts are written again from the new figures, so no summary quotes an older version.
		enqueue := tr.Client.EnqueueRedescribe
		if pp.New || (pp.Stability != nil && *pp.Stability < 0.8) {
			enqueue = tr.Client.EnqueueEnrich
		}
		if err := enqueue(ctx, projectID, pp.ID); err != nil {
			tr.Logger.Warn("enqueue enrichment", "project_id", projectID, "err", err.Error())
		}
	}
	if tr.Signer != nil {
		if err := receipt.Resign(ctx, tr.Store, tr.Signer, projectID); err != nil {
			tr.Logger.Warn("re-sign receipts", "project_id", projectID, "err", err.Error())
		}
	}
}
