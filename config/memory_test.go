package config

import (
	"math"
	"runtime/debug"
	"testing"
)

// TestLimitMemory: the limit is set on a process without one, and an operator's GOMEMLIMIT (a
// limit already in force) stands.
func TestLimitMemory(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })

	debug.SetMemoryLimit(math.MaxInt64)
	if got := LimitMemory(TrainMemoryLimit); got != TrainMemoryLimit || debug.SetMemoryLimit(-1) != TrainMemoryLimit {
		t.Errorf("without a limit: LimitMemory = %d, in force %d, want %d", got, debug.SetMemoryLimit(-1), TrainMemoryLimit)
	}
	const operator = 2 << 30
	debug.SetMemoryLimit(operator)
	if got := LimitMemory(TrainMemoryLimit); got != operator || debug.SetMemoryLimit(-1) != operator {
		t.Errorf("with GOMEMLIMIT: LimitMemory = %d, in force %d, want the operator's %d", got, debug.SetMemoryLimit(-1), operator)
	}
	if TrainMemoryLimit != 900<<20 {
		t.Errorf("TrainMemoryLimit = %d, want 900 MiB (the 1M-visitor figure's condition)", TrainMemoryLimit)
	}
}
