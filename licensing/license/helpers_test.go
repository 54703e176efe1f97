package license

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Test keys are derived from fixed seeds so that fuzz corpora and golden
// texts stay valid between runs.
func testKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

const (
	testKeyID    KeyID     = "vendor-2026"
	oldKeyID     KeyID     = "vendor-2025"
	testCluster  ClusterID = "lm-0123456789ab"
	otherCluster ClusterID = "lm-ba9876543210"
)

var (
	vendorKey = testKey(1)
	oldKey    = testKey(2)
	rogueKey  = testKey(3)
)

// testKeyring trusts the current and the previous vendor key, as a master
// does during a rotation.
func testKeyring(t testing.TB) Keyring {
	t.Helper()
	k := Keyring{}
	require.NoError(t, k.Add(testKeyID, vendorKey.Public().(ed25519.PublicKey)))
	require.NoError(t, k.Add(oldKeyID, oldKey.Public().(ed25519.PublicKey)))
	return k
}

// Times around the example license's life (testdata/timesheet.json):
// valid 2026-01-01 to 2027-01-01, a 30-day trial, 14 days of grace.
var (
	tStart   = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tInTrial = tStart.Add(10 * day)
	tAfter   = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	tExpiry  = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
)

func examplePayload(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/timesheet.json")
	require.NoError(t, err)
	return b
}

// mutate decodes the example payload into generic JSON, lets change edit
// it and encodes it again.
func mutate(t testing.TB, change func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(examplePayload(t), &m))
	change(m)
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

func obj(m map[string]any, key string) map[string]any { return m[key].(map[string]any) }

func mustSeal(t testing.TB, payload []byte, key ed25519.PrivateKey, id KeyID) []byte {
	t.Helper()
	text, err := Seal(payload, key, id)
	require.NoError(t, err, "Seal")
	return text
}

func verifyAt(t testing.TB, text []byte, at time.Time) (*License, error) {
	t.Helper()
	return Verify(text, testKeyring(t), VerifyOptions{ClusterID: testCluster, Now: at})
}

func mustVerify(t testing.TB, text []byte, at time.Time) *License {
	t.Helper()
	l, err := verifyAt(t, text, at)
	require.NoError(t, err, "Verify")
	return l
}

// sentinels are every error a license can be refused with.
var sentinels = []error{
	ErrMalformed, ErrTooLarge, ErrUnknownKey, ErrBadSignature, ErrBadKey, ErrInvalidPayload,
	ErrUnsupportedFormat, ErrInvalidField, ErrWrongCluster, ErrExpired, ErrNotYetValid, ErrInvalidOptions,
}

// sentinelOf returns the one sentinel err wraps, failing if it wraps none
// or several.
func sentinelOf(t testing.TB, err error) error {
	t.Helper()
	var found error
	for _, s := range sentinels {
		if errors.Is(err, s) {
			require.Nil(t, found, "error %q wraps both %q and %q", err, found, s)
			found = s
		}
	}
	require.NotNil(t, found, "error %q wraps no sentinel", err)
	return found
}

func edSign(key ed25519.PrivateKey, msg []byte) []byte { return ed25519.Sign(key, msg) }

func daysDur(n int64) time.Duration { return time.Duration(n) * day }
