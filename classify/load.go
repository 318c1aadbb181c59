package classify

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"personas/classifier"
	"personas/models"
)

// ErrUnreadable marks a published model whose blob cannot be read or decoded: retrying does
// not help, a new version does.
var ErrUnreadable = errors.New("model unreadable")

// Loaded is a published model version, decoded, with the persona of each cluster.
type Loaded struct {
	ProjectID uuid.UUID
	Version   int
	Model     *classifier.Model
	// PersonaIDs is the persona of each cluster (clusters without one are absent).
	PersonaIDs map[int]uuid.UUID
}

// LoadModel reads version of the project's model: its blob, decoded, and the persona of each
// cluster. A blob that cannot be read (other than PostgreSQL being unavailable or ctx's
// deadline) or decoded is an error wrapping ErrUnreadable; every other error is the store's.
func LoadModel(ctx context.Context, store *models.Store, projectID uuid.UUID, version int) (*Loaded, error) {
	blob, err := store.ModelBlob(ctx, projectID, version)
	if err != nil {
		if errors.Is(err, models.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return nil, err
		}
		return nil, fmt.Errorf("model %d of %s: %w: %w", version, projectID, ErrUnreadable, err)
	}
	m, err := classifier.UnmarshalModel(blob)
	if err != nil {
		return nil, fmt.Errorf("model %d of %s corrupt: %w: %w", version, projectID, ErrUnreadable, err)
	}
	ids, err := store.PersonaIDsByCluster(ctx, projectID, version)
	if err != nil {
		return nil, err
	}
	return &Loaded{ProjectID: projectID, Version: version, Model: m, PersonaIDs: ids}, nil
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
