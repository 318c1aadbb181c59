package main

import (
	"context"
	"fmt"

	"personas/accounts"
	"personas/mail"
	"personas/privacy"
)

// newAccounts builds the teams domain of serve: mail when PERSONAS_SMTP_URL is set, single
// sign-on when PERSONAS_OIDC_ISSUER is, and the argon2id slots it shares with the API's sign-in.
func (a *app) newAccounts(ctx context.Context) (*accounts.Service, *privacy.HashLimiter, error) {
	hashes := privacy.NewHashLimiter(0, 0)
	o := accounts.Options{PublicURL: a.cfg.PublicURL, InviteTTL: a.cfg.InviteTTL, Hashes: hashes, Logger: a.logger}
	if a.cfg.SMTPURL != "" {
		m, err := mail.New(a.cfg.SMTPURL, a.cfg.SMTPFrom)
		if err != nil {
			return nil, nil, fmt.Errorf("PERSONAS_SMTP_URL: %w", err)
		}
		o.Mailer = m
	}
	if a.cfg.OIDC.Enabled() {
		p, err := accounts.NewOIDC(ctx, accounts.OIDCConfig{Issuer: a.cfg.OIDC.Issuer, ClientID: a.cfg.OIDC.ClientID,
			ClientSecret: a.cfg.OIDC.ClientSecret, RedirectURL: a.cfg.PublicURL + "/auth/oidc/callback",
			AllowedDomains: a.cfg.OIDC.AllowedDomains})
		if err != nil {
			return nil, nil, fmt.Errorf("single sign-on (PERSONAS_OIDC_ISSUER): %w", err)
		}
		o.OIDC = p
	}
	return accounts.New(a.store, o), hashes, nil
}
