package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// plainEvery is how often a progress bar that is not on a terminal prints a line, besides one
// line per tenth of the work.
const plainEvery = 10 * time.Second

// bar is a progress bar. On a terminal it redraws itself on one line; written to anything else
// (a log file, a pipe, CI's output) it prints plain lines instead, one per tenth of the work
// and at least one every plainEvery, so that a log does not get one line of a thousand
// carriage returns.
type bar struct {
	out   io.Writer
	label string
	unit  string // after the counts of a plain line ("bytes"), or ""
	total int
	tty   bool
	n     atomic.Int64
	now   func() time.Time

	mu         sync.Mutex
	lastFilled int       // terminal: the filled width last drawn
	lastTenth  int       // plain: the tenth last printed
	lastLine   time.Time // plain: when the last line was printed
	start      time.Time
}

func newBar(out io.Writer, label string, total int) *bar {
	return newBarFor(out, label, "", total, isTerminal(out), time.Now)
}

func newBarFor(out io.Writer, label, unit string, total int, tty bool, now func() time.Time) *bar {
	b := &bar{out: out, label: label, unit: unit, total: max(total, 1), tty: tty, now: now,
		lastFilled: -1, lastTenth: -1, start: now()}
	b.draw()
	return b
}

// isTerminal tells whether w is a terminal (a tty), as golang.org/x/term does: by asking the
// kernel for its terminal attributes. A file, a pipe or /dev/null is not one.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func (b *bar) add(n int) {
	b.n.Add(int64(n))
	b.draw()
}

func (b *bar) draw() {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := min(int(b.n.Load()), b.total)
	if !b.tty {
		tenth := n * 10 / b.total
		if tenth == b.lastTenth && b.now().Sub(b.lastLine) < plainEvery {
			return
		}
		b.lastTenth, b.lastLine = tenth, b.now()
		fmt.Fprintf(b.out, "  %s: %s (%d %%)\n", b.label, b.counts(n), n*100/b.total)
		return
	}
	const width = 30
	filled := n * width / b.total
	if filled == b.lastFilled {
		return
	}
	b.lastFilled = filled
	fmt.Fprintf(b.out, "\r  [%s%s] %3d%%  %s", strings.Repeat("#", filled), strings.Repeat(".", width-filled), n*100/b.total, b.label)
}

func (b *bar) counts(n int) string {
	s := thousands(n) + "/" + thousands(b.total)
	if b.unit != "" {
		s += " " + b.unit
	}
	return s
}

func (b *bar) done() {
	b.mu.Lock()
	defer b.mu.Unlock()
	took := b.now().Sub(b.start).Round(100 * time.Millisecond)
	if !b.tty {
		n := min(int(b.n.Load()), b.total)
		fmt.Fprintf(b.out, "  %s: done, %s in %s\n", b.label, b.counts(n), took)
		return
	}
	fmt.Fprintf(b.out, "  (%s)\n", took)
}

// thousands writes n with commas between groups of three digits: 40,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
