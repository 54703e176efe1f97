package sources

import (
	"fmt"
	"testing"
	"time"

	"github.com/licmesh/licmesh/licensing/clock/clocktest"
	"github.com/licmesh/licmesh/licensing/usage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testKey is the pseudonym key the tests use.
var testKey = []byte("0123456789abcdef-test-key")

// testNow is the source clock in tests; test data is laid out around it.
var testNow = time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)

func testOptions() Options {
	return Options{Clock: clocktest.New(testNow), HashKey: testKey}
}

// wantErr checks that err wraps kind and that its message holds every part.
func wantErr(t *testing.T, err error, kind error, parts ...string) {
	t.Helper()
	require.Error(t, err, "want %v", kind)
	t.Logf("error: %v", err)
	require.ErrorIs(t, err, kind)
	for _, p := range parts {
		assert.ErrorContains(t, err, p)
	}
}

// noSecret checks that none of the secrets appear in s.
func noSecret(t *testing.T, s string, secrets ...string) {
	t.Helper()
	for _, sec := range secrets {
		if sec != "" {
			assert.NotContains(t, s, sec, "%q leaks the secret %q", s, sec)
		}
	}
}

// mustNew creates a source or fails the test, and closes it at the end.
func mustNew(t *testing.T, cfg Config, opts Options) Source {
	t.Helper()
	src, err := New(cfg, opts)
	require.NoError(t, err, "New")
	t.Cleanup(func() { src.Close() })
	return src
}

// userByRaw finds the user whose raw ID was raw.
func userByRaw(t *testing.T, users []usage.UserState, raw string) usage.UserState {
	t.Helper()
	id := Pseudonym(testKey, raw)
	for _, u := range users {
		if u.UserID == id {
			return u
		}
	}
	require.FailNow(t, fmt.Sprintf("no user %q (pseudonym %s) in %d users", raw, id, len(users)))
	return usage.UserState{}
}

func logonByRaw(t *testing.T, logons []usage.Logon, raw string) usage.Logon {
	t.Helper()
	id := Pseudonym(testKey, raw)
	for _, l := range logons {
		if l.UserID == id {
			return l
		}
	}
	require.FailNow(t, fmt.Sprintf("no logon of %q in %d logons", raw, len(logons)))
	return usage.Logon{}
}

// noRawIDs checks that the sample, printed in full, holds none of the raw
// user IDs.
func noRawIDs(t *testing.T, s Sample, raws ...string) {
	t.Helper()
	text := fmt.Sprintf("%+v", s)
	for _, r := range raws {
		assert.NotContains(t, text, r, "sample holds the raw user ID %q", r)
	}
}
