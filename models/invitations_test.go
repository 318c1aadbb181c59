package models_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"personas/internal/testenv"
	"personas/models"
)

// TestInvitationRepository checks the rules the table itself keeps: one open invitation per
// address and project (an expired one is replaced, and its link dies), no invitation of a
// member, none reachable through another project, and an acceptance that never lowers a role.
func TestInvitationRepository(t *testing.T) {
	env := testenv.New(t)
	st := env.Store
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	st.SetClock(func() time.Time { return now })
	owner, _, err := st.EnsureUser(ctx, "owner@example.test", "", false)
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.CreateProject(ctx, owner.ID, "P", []string{"https://p.example"})
	if err != nil {
		t.Fatal(err)
	}
	q, err := st.CreateProject(ctx, owner.ID, "Q", []string{"https://q.example"})
	if err != nil {
		t.Fatal(err)
	}
	ni := models.NewInvitation{ProjectID: p.ID, Email: "x@example.test", Role: models.RoleViewer, CreatedBy: owner.ID}
	first, firstToken, err := st.CreateInvitation(ctx, ni)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.CreateInvitation(ctx, ni); !errors.Is(err, models.ErrConflict) {
		t.Errorf("a second open invitation = %v, want ErrConflict", err)
	}
	if _, _, err := st.CreateInvitation(ctx, models.NewInvitation{ProjectID: q.ID, Email: "x@example.test", Role: models.RoleViewer}); err != nil {
		t.Errorf("the same address in another project: %v", err)
	}
	if _, _, err := st.CreateInvitation(ctx, models.NewInvitation{ProjectID: p.ID, Email: "owner@example.test", Role: models.RoleAdmin}); !errors.Is(err, models.ErrConflict) {
		t.Errorf("inviting the owner = %v, want ErrConflict", err)
	}
	if _, err := st.Invitation(ctx, q.ID, first.ID); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("an invitation read through another project = %v, want ErrNotFound", err)
	}
	if _, err := st.RevokeInvitation(ctx, q.ID, first.ID); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("an invitation revoked through another project = %v, want ErrNotFound", err)
	}
	var sealed []byte
	if err := env.Pool.QueryRow(ctx, `SELECT email_enc FROM invitations WHERE id = $1`, first.ID).Scan(&sealed); err != nil ||
		len(sealed) == 0 || string(sealed) == "x@example.test" {
		t.Errorf("the invited address is not sealed (%v)", err)
	}

	now = now.Add(models.DefaultInvitationTTL)
	if got, _ := st.InvitationByToken(ctx, firstToken); got.Status != models.InvitationExpired {
		t.Errorf("status %q at expiry, want expired", got.Status)
	}
	second, secondToken, err := st.CreateInvitation(ctx, models.NewInvitation{ProjectID: p.ID, Email: "X@example.test", Role: models.RoleEditor})
	if err != nil {
		t.Fatalf("a new invitation after the first expired: %v", err)
	}
	if _, err := st.InvitationByToken(ctx, firstToken); !errors.Is(err, models.ErrInvitationUnknown) {
		t.Errorf("the replaced invitation's link = %v, want ErrInvitationUnknown", err)
	}

	// The address became an admin meanwhile: accepting an editor invitation keeps admin.
	if _, err := st.AddMember(ctx, p.ID, "x@example.test", models.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	u, inv, err := st.AcceptInvitation(ctx, secondToken, models.Acceptance{})
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := st.RoleOf(ctx, p.ID, u.ID); r != models.RoleAdmin {
		t.Errorf("role %q after accepting an editor invitation as admin, want admin", r)
	}
	if inv.ID != second.ID || inv.Status != models.InvitationAccepted || inv.AcceptedBy == nil || *inv.AcceptedBy != u.ID {
		t.Errorf("accepted invitation %+v", inv)
	}
	if _, _, err := st.AcceptInvitation(ctx, secondToken, models.Acceptance{}); !errors.Is(err, models.ErrInvitationUsed) {
		t.Errorf("accepting twice = %v, want ErrInvitationUsed", err)
	}
	if _, _, err := st.ResendInvitation(ctx, p.ID, second.ID, 0); !errors.Is(err, models.ErrInvitationUsed) {
		t.Errorf("resending an accepted invitation = %v, want ErrInvitationUsed", err)
	}
	if _, err := st.RevokeInvitation(ctx, p.ID, second.ID); !errors.Is(err, models.ErrInvitationUsed) {
		t.Errorf("revoking an accepted invitation = %v, want ErrInvitationUsed", err)
	}

	// Invitations are the project's: they go with its row (the deletion cascade's last step).
	if _, err := env.Pool.Exec(ctx, `DELETE FROM projects WHERE id = $1`, q.ID); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := env.Pool.QueryRow(ctx, `SELECT count(*) FROM invitations WHERE project_id = $1`, q.ID).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d invitations of a deleted project left (%v)", left, err)
	}
}

// TestPendingSessionsAuthenticateNothing checks that a sign-in awaiting its second factor is no
// session until it is completed, and that completing it gives a new secret and ends the old.
func TestPendingSessionsAuthenticateNothing(t *testing.T) {
	st := testenv.New(t).Store
	ctx := context.Background()
	u, _, err := st.EnsureUser(ctx, "p@example.test", "", false)
	if err != nil {
		t.Fatal(err)
	}
	pending, err := st.OpenSession(ctx, models.NewSession{UserID: u.ID, DeviceClass: "mobile", PendingSecondFactor: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AuthenticateSession(ctx, pending.Secret); !errors.Is(err, models.ErrUnauthenticated) {
		t.Errorf("a pending sign-in authenticated (%v)", err)
	}
	if d := time.Until(pending.ExpiresAt); d > models.PendingSessionTTL {
		t.Errorf("a pending sign-in lasts %v, want at most %v", d, models.PendingSessionTTL)
	}
	list, err := st.Sessions(ctx, models.Principal{UserID: u.ID})
	if err != nil || len(list) != 0 {
		t.Errorf("Sessions lists %d pending sign-ins (%v), want none", len(list), err)
	}
	if _, err := st.CompleteSecondFactor(ctx, pending.Secret, uuid.New()); !errors.Is(err, models.ErrUnauthenticated) {
		t.Errorf("completing another user's pending sign-in = %v", err)
	}
	full, err := st.CompleteSecondFactor(ctx, pending.Secret, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.AuthenticateSession(ctx, full.Secret)
	if err != nil || !p.TwoFactorOK || p.SessionID != full.ID {
		t.Errorf("completed session: %+v, %v", p, err)
	}
	if _, err := st.PendingSession(ctx, pending.Secret); !errors.Is(err, models.ErrUnauthenticated) {
		t.Errorf("the pending sign-in survived its completion (%v)", err)
	}
	list, err = st.Sessions(ctx, p)
	if err != nil || len(list) != 1 || list[0].DeviceClass != "mobile" || !list[0].TwoFactorOK || !list[0].Current {
		t.Errorf("Sessions = %+v, %v", list, err)
	}
}
