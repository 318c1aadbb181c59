package ingest

import (
	"strconv"
	"strings"
	"testing"
)

// TestZoneCacheBounded sends thousands of distinct time-zone names: none that is not a zone is
// cached, the real ones are, and the cache never passes its bound.
func TestZoneCacheBounded(t *testing.T) {
	before := zoneCount()
	tests := []struct {
		name, tz, want string
	}{
		{"zone", "Europe/Paris", "Europe/Paris"},
		{"three parts", "America/Argentina/Buenos_Aires", "America/Argentina/Buenos_Aires"},
		{"Etc offset", "Etc/GMT+5", "Etc/GMT+5"},
		{"empty", "", "UTC"},
		{"Local", "Local", "UTC"},
		{"path traversal", "../../etc/passwd", "UTC"},
		{"absolute path", "/etc/localtime", "UTC"},
		{"backslash", "Europe\\Paris", "UTC"},
		{"dot", "Europe/.", "UTC"},
		{"not a zone", "Mars/Olympus_Mons", "UTC"},
		{"too long", "Europe/" + strings.Repeat("a", 100), "UTC"},
		{"NUL", "Europe/Paris\x00", "UTC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := loadTZ(tt.tz).String(); got != tt.want {
				t.Errorf("loadTZ(%q) = %s, want %s", tt.tz, got, tt.want)
			}
		})
	}
	for i := range 5000 {
		loadTZ("Europe/Nowhere" + strconv.Itoa(i))
	}
	if n := zoneCount(); n > before+3 || n > maxZones {
		t.Errorf("zone cache holds %d after 5000 unknown names (%d before, 3 real zones), want at most %d", n, before, before+3)
	}
}
