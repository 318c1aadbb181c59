package mail_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"personas/internal/smtptest"
	"personas/mail"
)

// TestSendDelivers sends through a real SMTP server, with STARTTLS and with implicit TLS, as
// an account whose password holds every character a URL treats specially, and checks the
// envelope, the headers and both bodies the server received.
func TestSendDelivers(t *testing.T) {
	for _, implicit := range []bool{false, true} {
		name := map[bool]string{false: "starttls", true: "implicit tls"}[implicit]
		t.Run(name, func(t *testing.T) {
			srv := smtptest.New(t, smtptest.Options{ImplicitTLS: implicit})
			m, err := mail.New(srv.URL(), "Personas <noreply@personas.test>", mail.WithRootCAs(srv.RootCAs))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(m.String(), srv.Password) || strings.Contains(m.String(), "p%40ss") {
				t.Errorf("String() = %q shows the password", m.String())
			}
			err = m.Send(context.Background(), mail.Message{To: "Jane <jane@example.test>", Subject: "You are invited",
				Text: "Open https://personas.test/accept-invitation/inv_abc to join.",
				HTML: `<p>Open <a href="https://personas.test/accept-invitation/inv_abc">the link</a> to join.</p>`})
			if err != nil {
				t.Fatal(err)
			}
			msgs := srv.Wait(t, 1, 5*time.Second)
			got := msgs[0]
			if got.From != "noreply@personas.test" || len(got.To) != 1 || got.To[0] != "jane@example.test" {
				t.Errorf("envelope from %q to %v, want noreply@personas.test to [jane@example.test]", got.From, got.To)
			}
			if got.Username != "mailer" {
				t.Errorf("authenticated as %q, want mailer", got.Username)
			}
			for _, want := range []string{"Subject: You are invited", "To: <jane@example.test>", "text/plain", "text/html",
				"https://personas.test/accept-invitation/inv_abc", `<a href=3D"https://personas.test/accept-invitation/inv_abc">`} {
				if !strings.Contains(got.Data, want) {
					t.Errorf("message lacks %q:\n%s", want, got.Data)
				}
			}
		})
	}
}

// TestSendRefusesWhatIsNotSafe checks that a wrong password fails with the server's refusal,
// that an untrusted certificate is refused (no mail goes to a relay that cannot prove who it
// is), and that no error quotes the password.
func TestSendRefusesWhatIsNotSafe(t *testing.T) {
	srv := smtptest.New(t, smtptest.Options{})
	ctx := context.Background()
	msg := mail.Message{To: "jane@example.test", Subject: "s", Text: "secret body text"}

	wrong := strings.Replace(srv.URL(), "mailer:", "mailer:x", 1)
	m, err := mail.New(wrong, "noreply@personas.test", mail.WithRootCAs(srv.RootCAs), mail.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	err = m.Send(ctx, msg)
	if !errors.Is(err, mail.ErrSend) || !strings.Contains(err.Error(), "535") {
		t.Errorf("wrong password: %v, want ErrSend with the server's 535", err)
	}
	checkNoSecret(t, err, srv.Password)

	untrusted, err := mail.New(srv.URL(), "noreply@personas.test", mail.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	err = untrusted.Send(ctx, msg)
	if !errors.Is(err, mail.ErrSend) || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted certificate: %v, want ErrSend naming the certificate", err)
	}
	checkNoSecret(t, err, srv.Password)
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("%d messages delivered, want none", n)
	}
}

func checkNoSecret(t *testing.T, err error, password string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range []string{password, "p@ss", "p%40ss", "secret body text"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q quotes %q", err, s)
		}
	}
}

// TestNewRejectsHostileURLs is the table of URLs a setting may hold by mistake or malice.
func TestNewRejectsHostileURLs(t *testing.T) {
	tests := []struct {
		name, url, from, wantErr, wantString string
	}{
		{"starttls default port", "smtp://relay.example:587", "a@b.test", "", "smtp://relay.example:587"},
		{"implicit tls", "smtps://u:pw@relay.example", "a@b.test", "", "smtps://u@relay.example"},
		{"encoded special characters", "smtp://u%40x:p%2F%3F%23%25w@relay.example:2525", "a@b.test", "", "smtp://u%40x@relay.example:2525"},
		{"unencoded @ in the password", "smtp://u:p@ss@relay.example:25", "a@b.test", "", "smtp://u@relay.example:25"},
		{"no host", "smtp://:587", "a@b.test", "no host", ""},
		{"no host at all", "smtp://", "a@b.test", "no host", ""},
		{"port not a number", "smtp://relay.example:smtp", "a@b.test", "not a valid URL", ""},
		{"port zero", "smtp://relay.example:0", "a@b.test", "port must be", ""},
		{"port too big", "smtp://relay.example:70000", "a@b.test", "port must be", ""},
		{"empty port", "smtp://relay.example:", "a@b.test", "port must be", ""},
		{"unknown scheme", "http://relay.example", "a@b.test", "scheme must be", ""},
		{"no scheme", "relay.example:587", "a@b.test", "scheme must be", ""},
		{"insecure is not offered", "smtp+insecure://relay.example", "a@b.test", "scheme must be", ""},
		{"path", "smtp://relay.example/x", "a@b.test", "no path", ""},
		{"query", "smtp://relay.example?tls=off", "a@b.test", "no path", ""},
		{"password without user", "smtp://:pw@relay.example", "a@b.test", "needs a user", ""},
		{"unencoded slash in the password", "smtp://u:p/w@relay.example", "a@b.test", "", ""},
		{"bad sender", "smtp://relay.example", "not an address", "sender", ""},
		{"control characters", "smtp://u:p\n@relay.example", "a@b.test", "not a valid URL", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := mail.New(tt.url, tt.from)
			if tt.name == "unencoded slash in the password" {
				// "u:p" becomes the host and "w@relay.example" the path: refused either way,
				// and never with the password in the message.
				if err == nil {
					t.Fatalf("New(%q) accepted a URL whose password was not encoded", tt.url)
				}
				checkNoSecret(t, err, "p/w")
				return
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("New(%q): %v", tt.url, err)
				}
				if m.String() != tt.wantString {
					t.Errorf("String() = %q, want %q", m.String(), tt.wantString)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New(%q) = %v, want an error with %q", tt.url, err, tt.wantErr)
			}
			checkNoSecret(t, err, "pw")
		})
	}
}
