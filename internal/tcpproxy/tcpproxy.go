// Package tcpproxy is a small TCP proxy for fault tests: put it between the service and
// PostgreSQL or Redis, then cut and restore the path without touching the shared servers.
package tcpproxy

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy forwards connections from its address to a target while enabled.
type Proxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	enabled bool
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
	frozen  atomic.Bool
}

// New starts a proxy to target on a free loopback port; it stops at test cleanup.
func New(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, enabled: true, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut closes every open connection and refuses new ones until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.enabled = false
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
}

// Restore accepts connections again and ends a Freeze.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.enabled = true
	p.mu.Unlock()
	p.frozen.Store(false)
}

// Freeze stops forwarding bytes without closing anything, as a peer whose machine vanished:
// open connections see silence, never an end, until Restore or Cut.
func (p *Proxy) Freeze() { p.frozen.Store(true) }

// Close stops the proxy.
func (p *Proxy) Close() {
	p.ln.Close()
	p.Cut()
	p.wg.Wait()
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.enabled {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			c.Close()
			continue
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.untrack(c)
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				return
			}
			if !p.track(up) {
				up.Close()
				return
			}
			defer p.untrack(up)
			done := make(chan struct{}, 2)
			go func() { p.copy(up, c); done <- struct{}{} }()
			go func() { p.copy(c, up); done <- struct{}{} }()
			<-done
		}()
	}
}

// copy forwards src to dst until either fails, holding what it read while frozen.
func (p *Proxy) copy(dst, src net.Conn) {
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		for n > 0 && p.frozen.Load() {
			if !p.open(src) {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// open reports whether the proxy still forwards c: not once the connection ended (untracked)
// or the proxy was cut or closed.
func (p *Proxy) open(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.conns[c]
	return ok && p.enabled
}
