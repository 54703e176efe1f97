package dashboard

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestUpdateEveryRoundTrip(t *testing.T) {
	for ms, want := range map[int64]string{
		6 * 3600_000: "6h", 90 * 60_000: "1h30m", 45 * 60_000: "45m", 24 * 3600_000: "24h", 90_000: "1m30s", 0: "",
	} {
		assert.Equal(t, want, formatEvery(ms), "formatEvery(%d)", ms)
	}
	for in, want := range map[string]time.Duration{
		"6h": 6 * time.Hour, " 1h 30m ": 90 * time.Minute, "2d": 48 * time.Hour, "2D": 48 * time.Hour, "45m": 45 * time.Minute,
	} {
		got, err := parseEvery(in)
		if assert.NoError(t, err, "parseEvery(%q)", in) {
			assert.Equal(t, want, got, "parseEvery(%q)", in)
		}
	}
	for _, in := range []string{"", "often", "-1h", "0", "1.5d", "d"} {
		_, err := parseEvery(in)
		assert.Error(t, err, "parseEvery(%q)", in)
	}
}
