// Package accounts is the teams domain of issue #19, below HTTP: invitations, password
// policy and resets, two-factor sign-in (TOTP and recovery codes), the sessions a person can
// review, and OpenID Connect single sign-on. It holds the rules; models holds the SQL and mail
// delivers the links. Every action that matters is audited through models, with ids only: no
// secret and no email address ever reaches the audit log.
package accounts
