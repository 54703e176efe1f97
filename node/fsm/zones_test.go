package fsm

import (
	"testing"
	"time"
)

// TestZonesComeFromTheBuiltInDatabase: zones resolve from the embedded
// database, with their real rules, and unknown or host-dependent names are
// refused.
func TestZonesComeFromTheBuiltInDatabase(t *testing.T) {
	paris, err := LoadZone("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	// Summer time: 2026-03-29 01:00 UTC is 03:00 in Paris.
	if got := time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC).In(paris).Hour(); got != 3 {
		t.Fatalf("Paris at 01:00 UTC on the day summer time starts: %d h, want 3", got)
	}
	if again, _ := LoadZone("Europe/Paris"); again != paris {
		t.Error("a zone is parsed again instead of cached")
	}
	if utc, err := LoadZone("UTC"); err != nil || utc != time.UTC {
		t.Fatalf("UTC = %v, %v", utc, err)
	}
	for _, bad := range []string{"", "Local", "Mars/Olympus", "../../etc/passwd", "Europe/"} {
		if _, err := LoadZone(bad); err == nil {
			t.Errorf("LoadZone(%q) accepted", bad)
		}
	}
}
