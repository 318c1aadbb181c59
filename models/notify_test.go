package models_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"personas/internal/tcpproxy"
	"personas/internal/testenv"
	"personas/models"
)

// TestListenHeartbeat: an idle listener checks its connection every heartbeat and keeps
// listening while the server answers; when the server falls silent (frozen path) or the path
// is cut, Listen returns an error instead of waiting on a dead connection, and the next Listen
// (a new connection from the pool) gets the notifications again.
func TestListenHeartbeat(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	u, _ := url.Parse(e.DataURL)
	proxy := tcpproxy.New(t, u.Host)
	u.Host = proxy.Addr()
	store := models.NewStore(testenv.Pool(t, u.String()), e.Keys, e.Keyring, e.Index)
	store.SetListenHeartbeat(50 * time.Millisecond)

	listen := func() (<-chan string, <-chan error, context.CancelFunc) {
		ctx, cancel := context.WithCancel(context.Background())
		got, listening, done := make(chan string, 10), make(chan struct{}), make(chan error, 1)
		go func() {
			done <- store.Listen(ctx, "hb_test", func() { close(listening) }, func(p string) { got <- p })
		}()
		select {
		case <-listening:
		case err := <-done:
			t.Fatalf("Listen: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatal("not listening within 10 s")
		}
		return got, done, cancel
	}
	notify := func(payload string) {
		t.Helper()
		if _, err := e.Pool.Exec(context.Background(), `SELECT pg_notify('hb_test', $1)`, payload); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(got <-chan string, want string) {
		t.Helper()
		select {
		case p := <-got:
			if p != want {
				t.Fatalf("payload %q, want %q", p, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("notification %q not received", want)
		}
	}

	got, done, cancel := listen()
	time.Sleep(300 * time.Millisecond) // several heartbeats pass with nothing to receive
	notify("after heartbeats")
	expect(got, "after heartbeats")
	select {
	case err := <-done:
		t.Fatalf("Listen returned while the server answered: %v", err)
	default:
	}

	// The server falls silent (its machine vanished: no FIN, no RST): the heartbeat notices.
	proxy.Freeze()
	t0 := time.Now()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Listen returned nil after its server fell silent")
		}
		t.Logf("silent server noticed after %s: %v", time.Since(t0).Round(time.Millisecond), err)
	case <-time.After(10 * time.Second):
		t.Fatal("Listen still waits on a server that fell silent 10 s ago")
	}
	cancel()
	proxy.Restore()
	got, done, cancel = listen()
	notify("again")
	expect(got, "again")

	// The path is cut (connections closed): Listen returns at once.
	proxy.Cut()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Listen returned nil after its connection was cut")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Listen still waits on a connection that was cut")
	}
	cancel()
	proxy.Restore()
	got, _, cancel = listen()
	defer cancel()
	notify("after the cut")
	expect(got, "after the cut")
}
