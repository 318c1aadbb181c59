package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// fakeClock advances only when told.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// TestBarPlainLines: written to anything but a terminal, a progress bar prints one plain line
// per tenth of the work (never a carriage return), one more when plainEvery passes without a
// new tenth, and a last line with the time taken.
func TestBarPlainLines(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	clock := &fakeClock{t: time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)}
	b := newBarFor(&out, "import history", "", 100_000, false, clock.now)
	for range 40 {
		b.add(1000) // ten small steps per tenth: one line per tenth
	}
	clock.t = clock.t.Add(plainEvery)
	b.add(1) // a tenth not yet reached, but ten seconds went by
	b.add(1) // and no more
	for range 60 {
		b.add(1000)
	}
	clock.t = clock.t.Add(1500 * time.Millisecond)
	b.done()
	want := []string{
		"  import history: 0/100,000 (0 %)",
		"  import history: 10,000/100,000 (10 %)",
		"  import history: 20,000/100,000 (20 %)",
		"  import history: 30,000/100,000 (30 %)",
		"  import history: 40,000/100,000 (40 %)",
		"  import history: 40,001/100,000 (40 %)",
		"  import history: 50,002/100,000 (50 %)",
		"  import history: 60,002/100,000 (60 %)",
		"  import history: 70,002/100,000 (70 %)",
		"  import history: 80,002/100,000 (80 %)",
		"  import history: 90,002/100,000 (90 %)",
		"  import history: 100,000/100,000 (100 %)",
		"  import history: done, 100,000/100,000 in 11.5s",
	}
	if diff := cmp.Diff(want, strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")); diff != "" {
		t.Errorf("plain lines (-want +got):\n%s", diff)
	}
	if strings.Contains(out.String(), "\r") {
		t.Error("a carriage return in plain output")
	}
}

// TestBarTerminal: on a terminal the bar redraws one line, 30 steps wide, and ends it once.
func TestBarTerminal(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	b := newBarFor(&out, "train", "", 1000, true, time.Now)
	for range 1000 {
		b.add(1)
	}
	b.done()
	s := out.String()
	if n := strings.Count(s, "\r"); n != 31 {
		t.Errorf("%d redraws, want 31 (0 to 30 filled)", n)
	}
	if strings.Count(s, "\n") != 1 || !strings.HasSuffix(s, "\n") || !strings.Contains(s, "[##############################] 100%  train") {
		t.Errorf("terminal output %q", s)
	}
}

// TestIsTerminal: a pseudo-terminal is a terminal; a buffer, a pipe, a file and /dev/null
// are not.
func TestIsTerminal(t *testing.T) {
	t.Parallel()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open a pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetUint32(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	pts, err := os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer pts.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	file, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	for name, tt := range map[string]struct {
		w    any
		want bool
	}{
		"pseudo-terminal": {pts, true}, "buffer": {&bytes.Buffer{}, false}, "pipe": {pw, false}, "file": {file, false}, "/dev/null": {null, false},
	} {
		w, _ := tt.w.(interface{ Write([]byte) (int, error) })
		if got := isTerminal(w); got != tt.want {
			t.Errorf("isTerminal(%s) = %v, want %v", name, got, tt.want)
		}
	}
	// newBar decides by itself: on the terminal it draws, in the file it prints lines.
	b := newBar(file, "x", 10)
	b.add(10)
	b.done()
	logged, _ := os.ReadFile(file.Name())
	if strings.Contains(string(logged), "\r") || !strings.Contains(string(logged), "x: 10/10 (100 %)") {
		t.Errorf("a bar written to a file: %q", logged)
	}
}

func TestThousands(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 100000: "100,000", 1234567: "1,234,567", -4000: "-4,000"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
