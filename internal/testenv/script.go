package testenv

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
)

// Script is the part of testing.TB that the test environment's helpers use, for a command
// (scripts/quality, scripts/train-1m) that builds the same environment outside `go test`: its
// cleanups run in reverse order at Close, and Fatal unwinds to the deferred Recover.
type Script struct {
	testing.TB // nil: any other method panics
	name       string
	log        io.Writer
	mu         sync.Mutex
	cleanups   []func()
	failed     bool
}

// scriptFatal is what Fatal panics with, for Recover to turn back into an error.
type scriptFatal string

// NewScript returns a Script named name that logs to log.
func NewScript(name string, log io.Writer) *Script { return &Script{name: name, log: log} }

// Helper does nothing: a script has no call stack to trim.
func (t *Script) Helper() {}

// Name is the script's name.
func (t *Script) Name() string { return t.name }

// Log writes a line to the script's log.
func (t *Script) Log(args ...any) { fmt.Fprintln(t.log, args...) }

// Logf writes a formatted line to the script's log.
func (t *Script) Logf(format string, args ...any) { fmt.Fprintf(t.log, format+"\n", args...) }

// Failed reports whether Errorf was called.
func (t *Script) Failed() bool { t.mu.Lock(); defer t.mu.Unlock(); return t.failed }

// Cleanup registers f to run at Close.
func (t *Script) Cleanup(f func()) { t.mu.Lock(); t.cleanups = append(t.cleanups, f); t.mu.Unlock() }

// Errorf logs and marks the script failed.
func (t *Script) Errorf(format string, args ...any) {
	t.mu.Lock()
	t.failed = true
	t.mu.Unlock()
	t.Logf(format, args...)
}

// Fatal stops the script: it panics for Recover.
func (t *Script) Fatal(args ...any) { panic(scriptFatal(fmt.Sprint(args...))) }

// Fatalf stops the script with a formatted message.
func (t *Script) Fatalf(format string, args ...any) { panic(scriptFatal(fmt.Sprintf(format, args...))) }

// Close runs the cleanups, last registered first.
func (t *Script) Close() {
	t.mu.Lock()
	fs := t.cleanups
	t.cleanups = nil
	t.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}

// Recover, deferred by the script's run function, turns a Fatal into *err; any other panic
// goes on.
func Recover(err *error) {
	if r := recover(); r != nil {
		f, ok := r.(scriptFatal)
		if !ok {
			panic(r)
		}
		*err = errors.New(string(f))
	}
}
