package accounts

import (
	"context"
	"errors"
	"fmt"
	"html"
	"time"

	"github.com/google/uuid"

	"personas/mail"
	"personas/models"
)

// Invite invites email to the project with role, for ttl (0: the service's default). Admins
// and owners invite up to admin, never owner (ownership is transferred). It returns the link
// to show the admin once, or "" when the link was mailed to the invitee; a delivery failure is
// logged and the link returned instead, so the admin can pass it on.
func (s *Service) Invite(ctx context.Context, actor models.Principal, projectID uuid.UUID, email string, role models.Role, ttl time.Duration) (string, models.Invitation, error) {
	if _, err := s.requireRole(ctx, actor, projectID, models.RoleAdmin); err != nil {
		return "", models.Invitation{}, err
	}
	if ttl == 0 {
		ttl = s.inviteTTL
	}
	inv, token, err := s.store.CreateInvitation(ctx, models.NewInvitation{ProjectID: projectID, Email: email, Role: role,
		CreatedBy: actor.UserID, TTL: ttl})
	if err != nil {
		return "", models.Invitation{}, err
	}
	s.audit(ctx, projectID, actor.UserID, "invitation.create", inv.ID.String(),
		map[string]any{"role": string(inv.Role), "expires_at": inv.ExpiresAt.Format(time.RFC3339)})
	return s.deliverInvitation(ctx, projectID, inv, token), inv, nil
}

// Resend gives an open invitation (pending or expired) a new link and a new expiry (ttl, 0:
// the default); the old link stops working. It answers as Invite does.
func (s *Service) Resend(ctx context.Context, actor models.Principal, projectID, invitationID uuid.UUID, ttl time.Duration) (string, models.Invitation, error) {
	if _, err := s.requireRole(ctx, actor, projectID, models.RoleAdmin); err != nil {
		return "", models.Invitation{}, err
	}
	if ttl == 0 {
		ttl = s.inviteTTL
	}
	inv, token, err := s.store.ResendInvitation(ctx, projectID, invitationID, ttl)
	if err != nil {
		return "", models.Invitation{}, err
	}
	s.audit(ctx, projectID, actor.UserID, "invitation.resend", inv.ID.String(),
		map[string]any{"resent": inv.Resent, "expires_at": inv.ExpiresAt.Format(time.RFC3339)})
	return s.deliverInvitation(ctx, projectID, inv, token), inv, nil
}

// Revoke withdraws an invitation that was not accepted; its link stops working.
func (s *Service) Revoke(ctx context.Context, actor models.Principal, projectID, invitationID uuid.UUID) (models.Invitation, error) {
	if _, err := s.requireRole(ctx, actor, projectID, models.RoleAdmin); err != nil {
		return models.Invitation{}, err
	}
	inv, err := s.store.RevokeInvitation(ctx, projectID, invitationID)
	if err != nil {
		return models.Invitation{}, err
	}
	s.audit(ctx, projectID, actor.UserID, "invitation.revoke", inv.ID.String(), nil)
	return inv, nil
}

// List lists the project's invitations, newest first (admin and above).
func (s *Service) List(ctx context.Context, actor models.Principal, projectID uuid.UUID) ([]models.Invitation, error) {
	if _, err := s.requireRole(ctx, actor, projectID, models.RoleAdmin); err != nil {
		return nil, err
	}
	return s.store.Invitations(ctx, projectID)
}

// deliverInvitation mails the link when it can and returns it when it could not.
func (s *Service) deliverInvitation(ctx context.Context, projectID uuid.UUID, inv models.Invitation, token string) string {
	link := s.InvitationLink(token)
	if s.mailer == nil {
		return link
	}
	name := "a project"
	if p, err := s.store.Project(ctx, projectID); err == nil {
		name = fmt.Sprintf("the project %q", p.Name)
	}
	days := int(time.Until(inv.ExpiresAt).Round(time.Hour).Hours() / 24)
	until := fmt.Sprintf("%d days", days)
	if days < 2 {
		until = fmt.Sprintf("%d hours", int(time.Until(inv.ExpiresAt).Round(time.Hour).Hours()))
	}
	msg := mail.Message{To: inv.Email, Subject: "You are invited to " + Product,
		Text: fmt.Sprintf("You are invited to join %s on %s as %s.\n\nOpen this link to set your password and sign in:\n%s\n\n"+
			"The link works once and for %s. If you did not expect this invitation, ignore this message.\n",
			name, Product, inv.Role, link, until),
		HTML: fmt.Sprintf(`<p>You are invited to join %s on %s as %s.</p><p><a href="%s">Set your password and sign in</a></p>`+
			`<p>The link works once and for %s. If you did not expect this invitation, ignore this message.</p>`,
			html.EscapeString(name), Product, inv.Role, html.EscapeString(link), until)}
	if s.send(ctx, "invitation", msg) {
		return ""
	}
	return link
}

// Accept accepts an invitation with the password the invitee chose, and signs the invitee in.
// A new account gets the password (checked against the policy); an account that has a
// password already keeps it and must present it (ErrExistingAccount otherwise), so that
// the link alone never takes an account over. A used, expired, revoked or forged link is
// ErrInvitationUsed, ErrInvitationExpired, ErrInvitationRevoked or ErrInvitationUnknown.
// device is the device class of the browser (privacy.DeviceClass).
func (s *Service) Accept(ctx context.Context, token, password, device string) (SignIn, error) {
	inv, err := s.store.InvitationByToken(ctx, token)
	if err != nil {
		return SignIn{}, err
	}
	switch inv.Status {
	case models.InvitationAccepted:
		return SignIn{}, ErrInvitationUsed
	case models.InvitationRevoked:
		return SignIn{}, ErrInvitationRevoked
	case models.InvitationExpired:
		return SignIn{}, ErrInvitationExpired
	}
	var hash string
	u, err := s.store.UserByEmail(ctx, inv.Email)
	switch {
	case err == nil:
		has, err := s.store.HasPassword(ctx, u.ID)
		if err != nil {
			return SignIn{}, err
		}
		if has {
			if _, err := s.verifyPassword(ctx, inv.Email, password); err != nil {
				if errors.Is(err, models.ErrUnauthenticated) {
					return SignIn{}, ErrExistingAccount
				}
				return SignIn{}, err
			}
			break
		}
		fallthrough
	case isNotFound(err):
		if hash, err = s.hashPassword(ctx, password, inv.Email); err != nil {
			return SignIn{}, err
		}
	default:
		return SignIn{}, err
	}
	u, inv, err = s.store.AcceptInvitation(ctx, token, models.Acceptance{PasswordHash: hash})
	if err != nil {
		return SignIn{}, err
	}
	s.audit(ctx, inv.ProjectID, u.ID, "invitation.accept", inv.ID.String(), map[string]any{"role": string(inv.Role)})
	return s.openSession(ctx, u, device, "invitation")
}

// verifyPassword checks an address's password under the hashing limiter.
func (s *Service) verifyPassword(ctx context.Context, email, password string) (models.User, error) {
	var u models.User
	var aerr error
	if err := s.hash(ctx, func() { u, aerr = s.store.Authenticate(ctx, email, password) }); err != nil {
		return models.User{}, err
	}
	return u, aerr
}
