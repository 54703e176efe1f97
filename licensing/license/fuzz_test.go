package license

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// FuzzOpen feeds arbitrary text to Open and Verify. Nothing may panic;
// every failure wraps a sentinel; whatever opens re-opens from its
// canonical form unchanged; and whatever verifies re-seals to exactly that
// canonical form (the payload bytes are what was signed, and Ed25519 is
// deterministic).
func FuzzOpen(f *testing.F) {
	good := mustSeal(f, examplePayload(f), vendorKey, testKeyID)
	f.Add(good)
	f.Add([]byte(strings.ReplaceAll(string(good), "\n", "\r\n")))
	f.Add([]byte("junk before\n  " + strings.ReplaceAll(string(good), "\n", "\n  ") + "junk after"))
	f.Add(good[:len(good)/2])
	f.Add(mustSeal(f, mutate(f, func(m map[string]any) { delete(m, "cluster_id") }), oldKey, oldKeyID))
	f.Add([]byte(beginMarker + "\nKey-Id: k\nAAAA\n=AAAA\n" + endMarker + "\n"))
	f.Add([]byte{})
	keys := testKeyring(f)

	f.Fuzz(func(t *testing.T, text []byte) {
		e, err := Open(text)
		if err != nil {
			require.True(t, errors.Is(err, ErrMalformed) || errors.Is(err, ErrTooLarge),
				"Open error %v wraps neither ErrMalformed nor ErrTooLarge", err)
			return
		}
		canon := e.Marshal()
		e2, err := Open(canon)
		// The canonical form re-opens to the same envelope.
		require.NoError(t, err, "canonical form does not re-open")
		require.Equal(t, e.KeyID, e2.KeyID, "canonical form: key id")
		require.Equal(t, string(e.Payload), string(e2.Payload), "canonical form: payload")
		require.Equal(t, string(e.Signature), string(e2.Signature), "canonical form: signature")
		l, err := e.Verify(keys, VerifyOptions{AnyCluster: true, Now: tAfter})
		if err != nil {
			sentinelOf(t, err)
			return
		}
		key := vendorKey
		if e.KeyID == oldKeyID {
			key = oldKey
		}
		again, err := Seal(e.Payload, key, e.KeyID)
		require.NoError(t, err, "a verified payload does not seal")
		require.Equal(t, string(canon), string(again), "re-sealing a verified license gave different text")
		require.Equal(t, string(canon), string(l.Text), "License.Text is not the canonical text")
	})
}

// FuzzParsePayload feeds arbitrary JSON to ParsePayload. Nothing may
// panic; failures wrap a sentinel; a payload that parses encodes (the way
// SealPayload does) to JSON that parses to the same payload.
func FuzzParsePayload(f *testing.F) {
	f.Add(examplePayload(f))
	f.Add(mutate(f, func(m map[string]any) {
		m["type"] = "perpetual"
		delete(m, "subscription")
		delete(m, "expires_at")
		m["perpetual"] = map[string]any{"updates_until": "2027-01-01T00:00:00+02:00"}
	}))
	f.Add([]byte(`{"format":1}`))
	f.Add([]byte(`{"format":2}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePayload(b)
		if err != nil {
			sentinelOf(t, err)
			return
		}
		again, err := json.Marshal(p)
		require.NoError(t, err, "a parsed payload does not encode")
		p2, err := ParsePayload(again)
		require.NoError(t, err, "re-encoded payload refused:\n%s", again)
		require.Equal(t, normalize(p), normalize(p2), "re-encoding changed the payload")
	})
}

// normalize drops what JSON round trips may change without changing the
// meaning: time zones and empty-versus-nil lists.
func normalize(p *Payload) Payload {
	q := *p
	for _, t := range []*time.Time{&q.IssuedAt, &q.NotBefore, &q.ExpiresAt} {
		*t = t.UTC()
	}
	if q.Perpetual != nil {
		pp := *q.Perpetual
		pp.UpdatesUntil = pp.UpdatesUntil.UTC()
		q.Perpetual = &pp
	}
	if len(q.Features) == 0 {
		q.Features = nil
	}
	if len(q.TrialTemplate) == 0 {
		q.TrialTemplate = nil
	}
	if len(q.LicenseTemplate) == 0 {
		q.LicenseTemplate = nil
	}
	if len(q.Pools) == 0 {
		q.Pools = nil
	}
	if len(q.Supersedes) == 0 {
		q.Supersedes = nil
	}
	return q
}
