package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// DefaultTimeout bounds one delivery: connecting, the TLS handshake, AUTH and the message.
const DefaultTimeout = 15 * time.Second

// Message is one message to one recipient, as plain text and HTML alternatives.
type Message struct {
	To      string
	Subject string
	Text    string
	HTML    string // optional
}

// Mailer delivers messages through one SMTP relay. It is safe for concurrent use: each
// delivery opens its own connection.
type Mailer struct {
	host        string
	port        int
	implicitTLS bool
	user, pass  string
	from        string
	timeout     time.Duration
	rootCAs     *x509.CertPool
	redactedURL string
	serverName  string
}

// Option adjusts a Mailer.
type Option func(*Mailer)

// WithRootCAs trusts these certificate authorities instead of the system's (tests, private
// relays).
func WithRootCAs(pool *x509.CertPool) Option { return func(m *Mailer) { m.rootCAs = pool } }

// WithTimeout bounds one delivery (DefaultTimeout otherwise).
func WithTimeout(d time.Duration) Option { return func(m *Mailer) { m.timeout = d } }

// ParseError is a PERSONAS_SMTP_URL that cannot be used. It never holds the password.
type ParseError struct{ Reason string }

func (e *ParseError) Error() string { return "SMTP URL: " + e.Reason }

// New builds a Mailer from smtpURL and the sender address from. The URL is
// smtp://user:pass@host:port (STARTTLS required, port 587 by default) or
// smtps://user:pass@host:port (implicit TLS, port 465 by default); user and password are
// optional (AUTH PLAIN when given) and must be percent-encoded where they hold characters such
// as '/', '?', '#' or '%'.
func New(smtpURL, from string, opts ...Option) (*Mailer, error) {
	u, err := url.Parse(smtpURL)
	if err != nil {
		return nil, &ParseError{"not a valid URL (percent-encode special characters of the user and password)"} // url's error quotes the password
	}
	m := &Mailer{timeout: DefaultTimeout}
	switch u.Scheme {
	case "smtp":
		m.port = 587
	case "smtps":
		m.port, m.implicitTLS = 465, true
	default:
		return nil, &ParseError{"scheme must be smtp (STARTTLS) or smtps (implicit TLS)"}
	}
	if u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, &ParseError{"want smtp://user:pass@host:port with no path, query or fragment"}
	}
	m.host = u.Hostname()
	if m.host == "" {
		return nil, &ParseError{"no host"}
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, &ParseError{"port must be a number from 1 to 65535"}
		}
		m.port = n
	} else if strings.HasSuffix(u.Host, ":") {
		return nil, &ParseError{"port must be a number from 1 to 65535"}
	}
	if u.User != nil {
		m.user = u.User.Username()
		m.pass, _ = u.User.Password()
		if m.user == "" {
			return nil, &ParseError{"a password needs a user name"}
		}
	}
	a, err := netmail.ParseAddress(from)
	if err != nil || !strings.Contains(a.Address, "@") {
		return nil, &ParseError{"the sender (PERSONAS_SMTP_FROM) is not an email address"}
	}
	m.from = a.String()
	m.serverName = m.host
	r := *u
	if m.user != "" {
		r.User = url.User(m.user)
	}
	m.redactedURL = r.String()
	for _, o := range opts {
		o(m)
	}
	if m.timeout <= 0 {
		m.timeout = DefaultTimeout
	}
	return m, nil
}

// String is the relay's URL without its password, for logs and start-up messages.
func (m *Mailer) String() string { return m.redactedURL }

// From is the sender address.
func (m *Mailer) From() string { return m.from }

// ErrSend wraps every failed delivery.
var ErrSend = errors.New("mail not sent")

// Send delivers one message, within the Mailer's timeout and ctx.
func (m *Mailer) Send(ctx context.Context, msg Message) error {
	to, err := netmail.ParseAddress(msg.To)
	if err != nil || strings.ContainsAny(msg.Subject, "\r\n") {
		return fmt.Errorf("%w: bad recipient or subject", ErrSend)
	}
	g := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := g.From(m.from); err != nil {
		return fmt.Errorf("%w: sender: %v", ErrSend, err)
	}
	if err := g.To(to.Address); err != nil {
		return fmt.Errorf("%w: recipient: %v", ErrSend, err)
	}
	g.Subject(msg.Subject)
	g.SetDate()
	g.SetMessageID()
	g.SetBodyString(gomail.TypeTextPlain, msg.Text)
	if msg.HTML != "" {
		g.AddAlternativeString(gomail.TypeTextHTML, msg.HTML)
	}
	tlsConf := &tls.Config{ServerName: m.serverName, RootCAs: m.rootCAs, MinVersion: tls.VersionTLS12}
	opts := []gomail.Option{
		gomail.WithPort(m.port),
		gomail.WithTimeout(m.timeout),
		gomail.WithTLSConfig(tlsConf),
	}
	if m.implicitTLS {
		opts = append(opts, gomail.WithSSL())
	} else {
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if m.user != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain), gomail.WithUsername(m.user), gomail.WithPassword(m.pass))
	}
	c, err := gomail.NewClient(m.host, opts...)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSend, err)
	}
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	if err := c.DialAndSendWithContext(ctx, g); err != nil {
		return fmt.Errorf("%w through %s: %v", ErrSend, m.redactedURL, err)
	}
	return nil
}
