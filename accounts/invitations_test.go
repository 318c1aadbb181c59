package accounts_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"personas/accounts"
	"personas/models"
)

// TestInvitationMailedAcceptedSignedIn is the whole path of a new member: the owner invites,
// the link arrives by mail (a real SMTP server), the invitee sets a password and is signed in
// as a viewer; the audit log says what happened with neither address nor link.
func TestInvitationMailedAcceptedSignedIn(t *testing.T) {
	f := newFixture(t, fixtureOptions{mail: true})
	ctx := context.Background()
	link, inv, err := f.svc.Invite(ctx, f.owner, f.project.ID, "Viewer@Example.test", models.RoleViewer, 0)
	if err != nil {
		t.Fatal(err)
	}
	if link != "" {
		t.Errorf("Invite returned the link %q although it was mailed", link)
	}
	if inv.Email != "viewer@example.test" || inv.Role != models.RoleViewer || inv.Status != models.InvitationPending {
		t.Errorf("invitation %+v, want a pending viewer invitation of viewer@example.test", inv)
	}
	if d := inv.ExpiresAt.Sub(inv.CreatedAt); d != 7*24*time.Hour {
		t.Errorf("invitation lasts %v, want 7 days", d)
	}
	msgs := f.smtp.Wait(t, 1, 10*time.Second)
	if msgs[0].To[0] != "viewer@example.test" || !strings.Contains(msgs[0].Data, `Shop`) {
		t.Errorf("mail to %v:\n%s", msgs[0].To, msgs[0].Data)
	}
	text, err := msgs[0].Part("text/plain")
	if err != nil {
		t.Fatal(err)
	}
	token := tokenOf(t, text, "/accept-invitation/")
	if html, err := msgs[0].Part("text/html"); err != nil || !strings.Contains(html, `href="https://personas.test/accept-invitation/`+token+`"`) {
		t.Errorf("the HTML part lacks the link (%v):\n%s", err, html)
	}

	in, err := f.svc.Accept(ctx, token, strongPassword, "desktop")
	if err != nil {
		t.Fatal(err)
	}
	if in.SecondFactor || in.User.Email != "viewer@example.test" {
		t.Errorf("accepted as %+v, want viewer@example.test signed in without a second factor", in)
	}
	p, ok := f.authenticated(in.Session.Secret)
	if !ok || p.UserID != in.User.ID {
		t.Fatalf("the session from Accept does not sign in (%v)", ok)
	}
	if r := role(t, f.st, f.project.ID, in.User.ID); r != models.RoleViewer {
		t.Errorf("role %q, want viewer", r)
	}
	if _, err := f.st.Authenticate(ctx, "viewer@example.test", strongPassword); err != nil {
		t.Errorf("the chosen password does not sign in: %v", err)
	}
	list, err := f.svc.List(ctx, f.owner, f.project.ID)
	if err != nil || len(list) != 1 || list[0].Status != models.InvitationAccepted || list[0].AcceptedBy == nil || *list[0].AcceptedBy != in.User.ID {
		t.Errorf("List = %+v, %v; want the invitation accepted by the new user", list, err)
	}
	got := f.actions()
	if got["invitation.create"] != 1 || got["invitation.accept"] != 1 || got["signin"] != 1 {
		t.Errorf("audit actions %v, want one invitation.create, invitation.accept and signin", got)
	}
	f.checkAuditClean(token, in.Session.Secret)
}

// TestInvitationHostileLinks is the table of links that must not let anyone in, each refused
// with its own plain error and without changing anything.
func TestInvitationHostileLinks(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()

	used, _ := f.invite("used@example.test", models.RoleViewer)
	if _, err := f.svc.Accept(ctx, used, strongPassword, "desktop"); err != nil {
		t.Fatal(err)
	}
	expired, _ := f.invite("late@example.test", models.RoleViewer)
	revoked, revokedInv := f.invite("revoked@example.test", models.RoleEditor)
	if _, err := f.svc.Revoke(ctx, f.owner, f.project.ID, revokedInv.ID); err != nil {
		t.Fatal(err)
	}
	resentOld, resentInv := f.invite("resent@example.test", models.RoleViewer)
	link, _, err := f.svc.Resend(ctx, f.owner, f.project.ID, resentInv.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	resentNew := tokenOf(t, link, "/accept-invitation/")
	f.clock.Add(7*24*time.Hour + time.Second) // the first invitations expire; the resent one too
	if _, _, err := f.svc.Resend(ctx, f.owner, f.project.ID, resentInv.ID, 0); err != nil {
		t.Fatal(err) // an expired invitation can be resent
	}

	tests := []struct {
		name, token string
		want        error
	}{
		{"accepted twice", used, accounts.ErrInvitationUsed},
		{"expired", expired, accounts.ErrInvitationExpired},
		{"revoked", revoked, accounts.ErrInvitationRevoked},
		{"forged", "inv_" + strings.Repeat("A", 43), accounts.ErrInvitationUnknown},
		{"a reset token", "rst_" + strings.Repeat("A", 43), accounts.ErrInvitationUnknown},
		{"empty", "", accounts.ErrInvitationUnknown},
		{"huge", strings.Repeat("x", 10000), accounts.ErrInvitationUnknown},
		{"replaced by a resend", resentOld, accounts.ErrInvitationUnknown},
		{"replaced by a second resend", resentNew, accounts.ErrInvitationUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.Accept(ctx, tt.token, strongPassword, "desktop")
			if !errors.Is(err, tt.want) {
				t.Fatalf("Accept = %v, want %v", err, tt.want)
			}
			for _, other := range []error{accounts.ErrInvitationUsed, accounts.ErrInvitationExpired, accounts.ErrInvitationRevoked, accounts.ErrInvitationUnknown} {
				if other != tt.want && errors.Is(err, other) {
					t.Errorf("Accept = %v is also %v: the answers must be distinct", err, other)
				}
			}
		})
	}
	for _, email := range []string{"late@example.test", "revoked@example.test", "resent@example.test"} {
		if _, err := f.st.UserByEmail(ctx, email); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("a refused link created the account %s (%v)", email, err)
		}
	}
}

// TestAcceptChecksThePassword refuses weak passwords and keeps the invitation open, and
// refuses to let a link set the password of an account that has one.
func TestAcceptChecksThePassword(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	token, _ := f.invite("new@example.test", models.RoleEditor)
	for _, pw := range []string{"short", "1234567890", "qwertyuiop", "new@example.test1", "Personas2026!"} {
		_, err := f.svc.Accept(ctx, token, pw, "desktop")
		var ve *models.ValidationError
		if !errors.As(err, &ve) || ve.Field != "password" {
			t.Errorf("Accept with password %q = %v, want a password validation error", pw, err)
		}
	}
	if _, err := f.svc.Accept(ctx, token, strongPassword, "mobile"); err != nil {
		t.Fatalf("the invitation did not stay open after weak passwords: %v", err)
	}

	// An account with a password, and a higher role already: the link needs that password and
	// never lowers the role.
	admin := f.member("admin@example.test", models.RoleAdmin)
	tok2, _, err := f.svc.Invite(ctx, f.owner, f.project.ID, "other@example.test", models.RoleViewer, 0)
	if err != nil {
		t.Fatal(err)
	}
	_ = tok2
	other, _, err := f.st.EnsureUser(ctx, "other@example.test", "the other one's own password", false)
	if err != nil {
		t.Fatal(err)
	}
	tok := tokenOf(t, tok2, "/accept-invitation/")
	if _, err := f.svc.Accept(ctx, tok, strongPassword, "desktop"); !errors.Is(err, accounts.ErrExistingAccount) {
		t.Errorf("Accept for an existing account with a new password = %v, want ErrExistingAccount", err)
	}
	if _, err := f.st.Authenticate(ctx, "other@example.test", "the other one's own password"); err != nil {
		t.Errorf("the existing password changed: %v", err)
	}
	in, err := f.svc.Accept(ctx, tok, "the other one's own password", "desktop")
	if err != nil || in.User.ID != other.ID {
		t.Fatalf("Accept with the account's password = %+v, %v", in.User, err)
	}
	if _, err := f.st.AddMember(ctx, f.project.ID, "admin@example.test", models.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	_ = admin
	if _, _, err := f.svc.Invite(ctx, f.owner, f.project.ID, "admin@example.test", models.RoleViewer, 0); !errors.Is(err, models.ErrConflict) {
		t.Errorf("inviting a member = %v, want ErrConflict", err)
	}
	if r := role(t, f.st, f.project.ID, admin.UserID); r != models.RoleAdmin {
		t.Errorf("admin's role became %q", r)
	}
}

// TestInvitationRoles is the role matrix of invitations: admins invite up to admin, never
// owner; editors and viewers do not invite; a non-member learns nothing of the project.
func TestInvitationRoles(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	admin := f.member("admin@example.test", models.RoleAdmin)
	editor := f.member("editor@example.test", models.RoleEditor)
	viewer := f.member("viewer@example.test", models.RoleViewer)
	stranger, _, err := f.st.EnsureUser(ctx, "stranger@example.test", strongPassword, false)
	if err != nil {
		t.Fatal(err)
	}
	platform, _, err := f.st.EnsureUser(ctx, "platform@example.test", strongPassword, true)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		actor models.Principal
		role  models.Role
		want  error // nil, a sentinel, or errValidation
	}{
		{"owner invites admin", f.owner, models.RoleAdmin, nil},
		{"admin invites admin", admin, models.RoleAdmin, nil},
		{"admin invites editor", admin, models.RoleEditor, nil},
		{"admin invites owner", admin, models.RoleOwner, errValidation},
		{"owner invites owner", f.owner, models.RoleOwner, errValidation},
		{"editor invites viewer", editor, models.RoleViewer, models.ErrForbidden},
		{"viewer invites viewer", viewer, models.RoleViewer, models.ErrForbidden},
		{"stranger invites viewer", models.Principal{UserID: stranger.ID}, models.RoleViewer, models.ErrNotFound},
		{"platform admin invites admin", models.Principal{UserID: platform.ID, PlatformAdmin: true}, models.RoleAdmin, nil},
		{"unknown role", f.owner, models.Role("root"), errValidation},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			email := strings.ReplaceAll(tt.name, " ", "-") + "@example.test"
			_, _, err := f.svc.Invite(ctx, tt.actor, f.project.ID, email, tt.role, 0)
			checkErr(t, err, tt.want)
			_ = i
		})
	}
	list, err := f.svc.List(ctx, f.owner, f.project.ID)
	if err != nil || len(list) != 4 {
		t.Errorf("List = %d invitations, %v; want the 4 allowed", len(list), err)
	}
	for _, p := range []models.Principal{editor, viewer} {
		if _, err := f.svc.List(ctx, p, f.project.ID); !errors.Is(err, models.ErrForbidden) {
			t.Errorf("List by a non-admin = %v, want ErrForbidden", err)
		}
		if _, err := f.svc.Revoke(ctx, p, f.project.ID, list[0].ID); !errors.Is(err, models.ErrForbidden) {
			t.Errorf("Revoke by a non-admin = %v, want ErrForbidden", err)
		}
	}
	if _, err := f.svc.List(ctx, models.Principal{UserID: stranger.ID}, f.project.ID); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("List by a stranger = %v, want ErrNotFound", err)
	}
	// An invitation of another project is not found through this one.
	other, err := f.st.CreateProject(ctx, f.owner.UserID, "Other", []string{"https://other.example"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Revoke(ctx, f.owner, other.ID, list[0].ID); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("Revoke through another project = %v, want ErrNotFound", err)
	}
	// Settable lifetime, within bounds.
	_, inv, err := f.svc.Invite(ctx, f.owner, f.project.ID, "short@example.test", models.RoleViewer, 2*time.Hour)
	if err != nil || inv.ExpiresAt.Sub(inv.CreatedAt) != 2*time.Hour {
		t.Errorf("a 2 h invitation: %v, %v", inv.ExpiresAt.Sub(inv.CreatedAt), err)
	}
	_, _, err = f.svc.Invite(ctx, f.owner, f.project.ID, "long@example.test", models.RoleViewer, 90*24*time.Hour)
	checkErr(t, err, errValidation)
}

var errValidation = errors.New("a validation error")

func checkErr(t *testing.T, err, want error) {
	t.Helper()
	switch want {
	case nil:
		if err != nil {
			t.Errorf("error %v, want none", err)
		}
	case errValidation:
		var ve *models.ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("error %v, want a validation error", err)
		}
	default:
		if !errors.Is(err, want) {
			t.Errorf("error %v, want %v", err, want)
		}
	}
}
