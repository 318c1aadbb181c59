package api

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"personas/internal/testenv"
)

// TestShutdownFinishesInFlightRequest starts a slow request, cancels the server's context, and
// checks that the request completes with its answer while new connections are refused.
func TestShutdownFinishesInFlightRequest(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	rdb, _ := testenv.Redis(t)
	s := NewServer(Deps{Store: e.Store, Redis: rdb, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	started := make(chan struct{})
	s.router.GET("/slow", func(c *gin.Context) {
		close(started)
		time.Sleep(700 * time.Millisecond)
		c.String(http.StatusOK, "finished")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln, 10*time.Second) }()

	type result struct {
		status int
		body   string
		err    error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/slow")
		if err != nil {
			res <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		res <- result{status: resp.StatusCode, body: string(b)}
	}()
	<-started
	cancel()
	r := <-res
	if r.err != nil || r.status != http.StatusOK || r.body != "finished" {
		t.Fatalf("in-flight request during shutdown: status %d body %q err %v", r.status, r.body, r.err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve returned %v", err)
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Error("a new request was accepted after shutdown")
	}
}

func TestPanicBecomesJSON500(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	rdb, _ := testenv.Redis(t)
	s := NewServer(Deps{Store: e.Store, Redis: rdb, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	s.router.GET("/boom", func(c *gin.Context) { panic("boom") })
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = s.Serve(ctx, ln, time.Second) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/boom")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 500 || string(b) != `{"error":{"code":"internal","message":"internal error"}}` {
		t.Fatalf("panic answered %d %s", resp.StatusCode, b)
	}
	if resp.Header.Get("X-Request-ID") == "" {
		t.Error("no request id on the answer")
	}
}
