package accounts_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"personas/models"
)

// TestSessionsReviewRevokeSignOut lists a user's sessions (device class, times, the current
// one marked, no address), revokes one, refuses another user's, and signs out everywhere
// while API tokens stay.
func TestSessionsReviewRevokeSignOut(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	m := f.member("jane@example.test", models.RoleViewer)
	f.member("other@example.test", models.RoleViewer)
	desk, err := f.svc.SignIn(ctx, "jane@example.test", strongPassword, "desktop")
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Add(3 * time.Minute)
	phone, err := f.svc.SignIn(ctx, "jane@example.test", strongPassword, "mobile")
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := f.svc.SignIn(ctx, "other@example.test", strongPassword, "tablet")
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Add(2*time.Minute + 30*time.Second)
	p, ok := f.authenticated(desk.Session.Secret) // seen again, from the desktop
	if !ok {
		t.Fatal("desktop session does not sign in")
	}
	list, err := f.svc.Sessions(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != desk.Session.ID || !list[0].Current || list[0].DeviceClass != "desktop" ||
		list[1].ID != phone.Session.ID || list[1].Current || list[1].DeviceClass != "mobile" {
		t.Fatalf("Sessions = %+v, want desktop (current, seen last) then mobile", list)
	}
	if want := f.clock.Now().Truncate(time.Minute); !list[0].LastSeenAt.Equal(want) {
		t.Errorf("last seen %v, want %v (to the minute)", list[0].LastSeenAt, want)
	}
	if err := f.svc.RevokeSession(ctx, p, theirs.Session.ID); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("revoking another user's session = %v, want ErrNotFound", err)
	}
	if _, ok := f.authenticated(theirs.Session.Secret); !ok {
		t.Error("the other user's session ended")
	}
	if err := f.svc.RevokeSession(ctx, p, phone.Session.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.authenticated(phone.Session.Secret); ok {
		t.Error("the revoked session still signs in")
	}
	if err := f.svc.RevokeSession(ctx, p, uuid.New()); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("revoking an unknown session = %v", err)
	}
	_, secret, err := f.st.CreateToken(ctx, m.UserID, "ci", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SignIn(ctx, "jane@example.test", strongPassword, "desktop"); err != nil {
		t.Fatal(err)
	}
	n, err := f.svc.SignOutEverywhere(ctx, p)
	if err != nil || n != 2 {
		t.Errorf("SignOutEverywhere ended %d sessions (%v), want 2", n, err)
	}
	if _, ok := f.authenticated(desk.Session.Secret); ok {
		t.Error("the caller's own session survived signing out everywhere")
	}
	if _, err := f.st.AuthenticateToken(ctx, secret); err != nil {
		t.Errorf("the API token stopped working: %v", err)
	}
	if _, ok := f.authenticated(theirs.Session.Secret); !ok {
		t.Error("another user's session ended")
	}
	if got := f.actions(); got["session.revoke"] != 1 || got["session.end_all"] != 1 || got["signin"] != 4 {
		t.Errorf("audit actions %v", got)
	}
}

// TestFailedSignInsAreCounted checks that failed sign-ins make one audit entry per account and
// hour with a count, not one per attempt, and never name the address.
func TestFailedSignInsAreCounted(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	m := f.member("jane@example.test", models.RoleViewer)
	for range 4 {
		if _, err := f.svc.SignIn(ctx, "jane@example.test", "wrong password here", "desktop"); !errors.Is(err, models.ErrUnauthenticated) {
			t.Fatalf("wrong password = %v", err)
		}
	}
	for range 3 {
		if _, err := f.svc.SignIn(ctx, "ghost@example.test", "wrong password here", "desktop"); !errors.Is(err, models.ErrUnauthenticated) {
			t.Fatalf("unknown address = %v", err)
		}
	}
	f.clock.Add(time.Hour + time.Minute)
	if _, err := f.svc.SignIn(ctx, "jane@example.test", "wrong password here", "desktop"); !errors.Is(err, models.ErrUnauthenticated) {
		t.Fatal(err)
	}
	rows, err := f.env.Pool.Query(ctx, `SELECT coalesce(actor_id::text, ''), target, (details->>'count')::int FROM audit_log
		WHERE action = 'signin.fail' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var actor, target string
		var n int
		if err := rows.Scan(&actor, &target, &n); err != nil {
			t.Fatal(err)
		}
		got = append(got, actor+"|"+target+"|"+strconv.Itoa(n))
	}
	want := []string{m.UserID.String() + "|" + m.UserID.String() + "|4", "|unknown account|3", m.UserID.String() + "|" + m.UserID.String() + "|1"}
	if len(got) != len(want) {
		t.Fatalf("entries %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d = %s, want %s", i, got[i], want[i])
		}
	}
	f.checkAuditClean("ghost", "wrong password")
}
