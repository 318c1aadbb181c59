package accounts_test

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"personas/accounts"
	"personas/internal/smtptest"
	"personas/internal/testenv"
	"personas/mail"
	"personas/models"
)

// strongPassword passes the policy for every address of these tests.
const strongPassword = "correct horse battery staple 7"

// fixture is one test's world: fresh databases, a project with its owner, a service and, when
// asked for, a real SMTP server that the service mails through.
type fixture struct {
	t       *testing.T
	env     *testenv.Env
	st      *models.Store
	svc     *accounts.Service
	smtp    *smtptest.Server
	owner   models.Principal
	project models.Project
	clock   *clock
}

// clock is a settable clock for the store, safe for the service's background work.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type fixtureOptions struct {
	mail     bool
	resetMin time.Duration
	oidc     *accounts.OIDC
}

func newFixture(t *testing.T, o fixtureOptions) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{t: t, env: testenv.New(t), clock: &clock{now: time.Now().UTC().Truncate(time.Second)}}
	f.st = f.env.Store
	f.st.SetClock(f.clock.Now)
	opts := accounts.Options{PublicURL: "https://personas.test/", ResetMinDuration: o.resetMin, OIDC: o.oidc}
	if o.mail {
		f.smtp = smtptest.New(t, smtptest.Options{})
		m, err := mail.New(f.smtp.URL(), "Personas <noreply@personas.test>", mail.WithRootCAs(f.smtp.RootCAs))
		if err != nil {
			t.Fatal(err)
		}
		opts.Mailer = m
	}
	f.svc = accounts.New(f.st, opts)
	t.Cleanup(func() { f.svc.Close(context.Background()) })
	u, _, err := f.st.EnsureUser(ctx, "owner@example.test", "owner password that is long", false)
	if err != nil {
		t.Fatal(err)
	}
	f.owner = models.Principal{UserID: u.ID}
	if f.project, err = f.st.CreateProject(ctx, u.ID, "Shop", []string{"https://shop.example"}); err != nil {
		t.Fatal(err)
	}
	return f
}

// member creates a user with a password and a role in the project.
func (f *fixture) member(email string, role models.Role) models.Principal {
	f.t.Helper()
	ctx := context.Background()
	u, _, err := f.st.EnsureUser(ctx, email, strongPassword, false)
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.st.AddMember(ctx, f.project.ID, email, role); err != nil {
		f.t.Fatal(err)
	}
	return models.Principal{UserID: u.ID}
}

// invite invites email as role without mail and returns the link's token.
func (f *fixture) invite(email string, role models.Role) (string, models.Invitation) {
	f.t.Helper()
	link, inv, err := f.svc.Invite(context.Background(), f.owner, f.project.ID, email, role, 0)
	if err != nil {
		f.t.Fatalf("invite %s: %v", email, err)
	}
	return tokenOf(f.t, link, "/accept-invitation/"), inv
}

var tokenRE = regexp.MustCompile(`(inv|rst)_[A-Za-z0-9_-]{43}`)

// tokenOf takes the token out of a link (or a message) that must hold one after path.
func tokenOf(t *testing.T, s, path string) string {
	t.Helper()
	if !strings.Contains(s, "https://personas.test"+path) {
		t.Fatalf("%q holds no link to %s", s, path)
	}
	tok := tokenRE.FindString(s)
	if tok == "" {
		t.Fatalf("no token in %q", s)
	}
	return tok
}

// authenticated reports whether a session secret signs in.
func (f *fixture) authenticated(secret string) (models.Principal, bool) {
	p, err := f.st.AuthenticateSession(context.Background(), secret)
	return p, err == nil
}

// auditText is the whole audit log as text, to look for what must never be there.
func (f *fixture) auditText() string {
	f.t.Helper()
	rows, err := f.env.Pool.Query(context.Background(), `SELECT action || ' ' || target || ' ' || details::text FROM audit_log ORDER BY id`)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			f.t.Fatal(err)
		}
		b.WriteString(s + "\n")
	}
	return b.String()
}

// actions counts the audit entries per action (all projects and the account scope).
func (f *fixture) actions() map[string]int {
	f.t.Helper()
	rows, err := f.env.Pool.Query(context.Background(), `SELECT action, count(*) FROM audit_log GROUP BY action`)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var a string
		var n int
		if err := rows.Scan(&a, &n); err != nil {
			f.t.Fatal(err)
		}
		out[a] = n
	}
	return out
}

// checkAuditClean fails when the audit log holds any of the secrets or addresses.
func (f *fixture) checkAuditClean(secrets ...string) {
	f.t.Helper()
	text := f.auditText()
	for _, s := range append(secrets, "@example.test", strongPassword) {
		if s != "" && strings.Contains(text, s) {
			f.t.Errorf("the audit log holds %q:\n%s", s, text)
		}
	}
}

func role(t *testing.T, st *models.Store, projectID, userID uuid.UUID) models.Role {
	t.Helper()
	r, err := st.RoleOf(context.Background(), projectID, userID)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
