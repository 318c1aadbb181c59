package classifier

import (
	"math"
	"testing"
)

func TestGoalLift(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                  string
		x, size, popX, n      int
		rate, lift, low, high float64
	}{
		// Wilson interval of 30/100 is 0.2189..0.3958; population rate 0.1.
		{"persona converts three times as often", 30, 100, 100, 1000, 0.3, 3, 2.189, 3.958},
		{"nobody anywhere", 0, 100, 0, 1000, 0, 0, 0, 0},
		// 0/50: Wilson 0..0.0714; population 0.2.
		{"persona never converts", 0, 50, 200, 1000, 0, 0, 0, 0.357},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := goalLift("g", tt.x, tt.size, tt.popX, tt.n)
			if math.Abs(g.Rate-tt.rate) > 1e-9 || math.Abs(g.Lift-tt.lift) > 1e-9 ||
				math.Abs(g.Low-tt.low) > 1e-3 || math.Abs(g.High-tt.high) > 1e-3 {
				t.Errorf("goalLift(%d/%d against %d/%d) = rate %.4f lift %.4f [%.4f, %.4f], want %.4f %.4f [%.4f, %.4f]",
					tt.x, tt.size, tt.popX, tt.n, g.Rate, g.Lift, g.Low, g.High, tt.rate, tt.lift, tt.low, tt.high)
			}
		})
	}
}
