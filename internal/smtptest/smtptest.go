// Package smtptest runs a real SMTP server (emersion/go-smtp) inside a test: STARTTLS or
// implicit TLS with a certificate made for the test and trusted through RootCAs, AUTH PLAIN
// with one account, and every message it accepts kept for assertions.
package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one message the server accepted.
type Message struct {
	From     string
	To       []string
	Data     string // the raw message, headers and body
	Username string // who authenticated
}

// Part returns the decoded body of the message's part of the media type ("text/plain",
// "text/html"): the message as a reader would see it, without quoted-printable soft breaks.
func (m Message) Part(mediaType string) (string, error) {
	msg, err := netmail.ReadMessage(strings.NewReader(m.Data))
	if err != nil {
		return "", err
	}
	return findPart(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, mediaType)
}

func findPart(contentType, encoding string, body io.Reader, want string) (string, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(mt, "multipart/") {
		r := multipart.NewReader(body, params["boundary"])
		for {
			p, err := r.NextRawPart()
			if err == io.EOF {
				return "", fmt.Errorf("no %s part", want)
			}
			if err != nil {
				return "", err
			}
			if s, err := findPart(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, want); err == nil {
				return s, nil
			}
		}
	}
	if mt != want {
		return "", fmt.Errorf("no %s part", want)
	}
	if strings.EqualFold(encoding, "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	b, err := io.ReadAll(body)
	return string(b), err
}

// Server is an SMTP server listening on a loopback port for one test.
type Server struct {
	Addr     string // host:port
	RootCAs  *x509.CertPool
	Username string
	Password string
	// ImplicitTLS is true for a server that speaks TLS from the first byte (smtps).
	ImplicitTLS bool

	mu       sync.Mutex
	messages []Message
	arrived  chan struct{}
}

// Options choose how the server listens.
type Options struct {
	ImplicitTLS bool   // smtps instead of STARTTLS
	Username    string // default "mailer"
	Password    string // default "s3cret:p@ss/w#rd?" (special characters on purpose)
}

// New starts a server closed at the end of the test.
func New(t testing.TB, o Options) *Server {
	t.Helper()
	if o.Username == "" {
		o.Username = "mailer"
	}
	if o.Password == "" {
		o.Password = "s3cret:p@ss/w#rd?"
	}
	cert, pool := certificate(t)
	s := &Server{RootCAs: pool, Username: o.Username, Password: o.Password, ImplicitTLS: o.ImplicitTLS,
		arrived: make(chan struct{}, 100)}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{srv: s}, nil }))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxMessageBytes = 1 << 20
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	var l net.Listener
	var err error
	if o.ImplicitTLS {
		l, err = tls.Listen("tcp", "127.0.0.1:0", srv.TLSConfig)
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s.Addr = l.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return s
}

// URL is the PERSONAS_SMTP_URL of the server, with its account.
func (s *Server) URL() string {
	scheme := "smtp"
	if s.ImplicitTLS {
		scheme = "smtps"
	}
	u := url.URL{Scheme: scheme, User: url.UserPassword(s.Username, s.Password), Host: s.Addr}
	return u.String()
}

// Port is the server's port.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.Addr)
	n, _ := strconv.Atoi(p)
	return n
}

// Messages returns the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Wait waits until n messages have arrived in all, and returns them; it fails the test after
// timeout.
func (s *Server) Wait(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if m := s.Messages(); len(m) >= n {
			return m
		}
		select {
		case <-s.arrived:
		case <-deadline.C:
			t.Fatalf("%d messages arrived within %v, want %d", len(s.Messages()), timeout, n)
		}
	}
}

type session struct {
	srv  *Server
	user string
	msg  Message
}

var errAuth = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "authentication failed"}

func (se *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (se *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != se.srv.Username || password != se.srv.Password {
			return errAuth
		}
		se.user = username
		return nil
	}), nil
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	if se.user == "" {
		return smtp.ErrAuthRequired
	}
	se.msg = Message{From: from, Username: se.user}
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	se.msg.To = append(se.msg.To, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	se.msg.Data = string(b)
	se.srv.mu.Lock()
	se.srv.messages = append(se.srv.messages, se.msg)
	se.srv.mu.Unlock()
	select {
	case se.srv.arrived <- struct{}{}:
	default:
	}
	return nil
}

func (se *session) Reset()        { se.msg = Message{} }
func (se *session) Logout() error { return nil }

// certificate makes a self-signed certificate for 127.0.0.1 and localhost and the pool that
// trusts it.
func certificate(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "smtptest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: c}, pool
}
