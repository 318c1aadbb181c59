package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"personas/models"
)

// teamsSettings is the teams part of the settings page.
type teamsSettings struct {
	On               bool // the teams domain runs: adding a member invites them
	Invitations      []models.Invitation
	RequireTwoFactor bool
}

func (s *Server) teamsSettingsOf(c *gin.Context, projectID uuid.UUID, role models.Role) (teamsSettings, error) {
	if s.accounts == nil {
		return teamsSettings{}, nil
	}
	ts := teamsSettings{On: true}
	var err error
	if role.AtLeast(models.RoleAdmin) {
		if ts.Invitations, err = s.accounts.List(c, principalFrom(c), projectID); err != nil {
			return ts, err
		}
	}
	ts.RequireTwoFactor, err = s.store.RequiresTwoFactor(c, projectID)
	return ts, err
}

// needAccounts is 404 for a form of teams when the server runs without it.
func (s *Server) needAccounts(h func(*gin.Context) error) func(*gin.Context) error {
	return func(c *gin.Context) error {
		if s.accounts == nil {
			return models.ErrNotFound
		}
		return h(c)
	}
}

// invitedView is the page after an invitation: its link, shown once, when it was not mailed.
type invitedView struct {
	Invitation    models.Invitation
	Link, Back    string
	Resent, Mails bool
}

func (s *Server) renderInvited(c *gin.Context, pj models.Project, v invitedView) error {
	v.Back, v.Mails = projectPath(pj, "/settings"), s.accounts.Mails()
	p, err := s.newPage(c, "Invitation · "+pj.Name, "settings", v)
	if err != nil {
		return err
	}
	s.render(c, http.StatusOK, "invited", p)
	return nil
}

// inviteForm is the settings page's "Invite": the member joins by accepting.
func (s *Server) inviteForm(c *gin.Context, pj models.Project, role models.Role) error {
	link, inv, err := s.accounts.Invite(c, principalFrom(c), pj.ID, c.PostForm("email"), role, 0)
	if err != nil {
		return teamsErr(c, err)
	}
	return s.renderInvited(c, pj, invitedView{Invitation: inv, Link: link})
}

func (s *Server) resendInvitationForm(c *gin.Context) error {
	id, err := invitationParam(c)
	if err != nil {
		return err
	}
	pj := projectFrom(c)
	link, inv, err := s.accounts.Resend(c, principalFrom(c), pj.ID, id, 0)
	if err != nil {
		return teamsErr(c, err)
	}
	return s.renderInvited(c, pj, invitedView{Invitation: inv, Link: link, Resent: true})
}

func (s *Server) revokeInvitationForm(c *gin.Context) error {
	id, err := invitationParam(c)
	if err != nil {
		return err
	}
	pj := projectFrom(c)
	if _, err := s.accounts.Revoke(c, principalFrom(c), pj.ID, id); err != nil {
		return teamsErr(c, err)
	}
	return redirect(c, projectPath(pj, "/settings"), "")
}

func (s *Server) requireTwoFactorForm(c *gin.Context) error {
	pj := projectFrom(c)
	var on bool
	switch c.PostForm("required") {
	case "on":
		on = true
	case "off":
	default:
		return models.Invalid("required", "must be on or off")
	}
	if err := s.accounts.RequireTwoFactor(c, principalFrom(c), pj.ID, on); err != nil {
		return teamsErr(c, err)
	}
	return redirect(c, projectPath(pj, "/settings"), "")
}
