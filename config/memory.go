package config

import (
	"math"
	"runtime/debug"
)

// TrainMemoryLimit is the soft memory limit (runtime/debug.SetMemoryLimit) of a process that
// trains models: a million visitors hold ~600 MB live at the peak (the feature matrix, the
// clustering's samples), and without a limit the collector lets the heap grow to twice its
// live data, past 1 GiB. It is soft: a larger project makes the collector work harder, nothing
// fails.
const TrainMemoryLimit = 900 << 20

// LimitMemory sets the process's soft memory limit to limit, unless the operator set one with
// GOMEMLIMIT (or the process already has one), and returns the limit in force. The training's
// limit is a process setting, made once by main: jobs never change it.
func LimitMemory(limit int64) int64 {
	if current := debug.SetMemoryLimit(-1); current != math.MaxInt64 {
		return current // GOMEMLIMIT: the operator's limit stands
	}
	debug.SetMemoryLimit(limit)
	return limit
}
