// Package mail sends the service's own messages (invitations, password reset links) through
// an SMTP relay named by PERSONAS_SMTP_URL, with github.com/wneessen/go-mail: STARTTLS is
// required on smtp:// and TLS from the first byte on smtps://, so a link never crosses the
// network in clear. It logs nothing: neither the URL's password nor a message body.
package mail
