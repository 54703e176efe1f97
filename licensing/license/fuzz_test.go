package license

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
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
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Open error %v wraps neither ErrMalformed nor ErrTooLarge", err)
			}
			return
		}
		canon := e.Marshal()
		e2, err := Open(canon)
		if err != nil || e2.KeyID != e.KeyID || !bytes.Equal(e2.Payload, e.Payload) || !bytes.Equal(e2.Signature, e.Signature) {
			t.Fatalf("canonical form does not re-open to the same envelope: %v", err)
		}
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
		if err != nil {
			t.Fatalf("a verified payload does not seal: %v", err)
		}
		if !bytes.Equal(again, canon) || !bytes.Equal(l.Text, canon) {
			t.Fatalf("re-sealing a verified license gave different text")
		}
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
		if err != nil {
			t.Fatalf("a parsed payload does not encode: %v", err)
		}
		p2, err := ParsePayload(again)
		if err != nil {
			t.Fatalf("re-encoded payload refused: %v\n%s", err, again)
		}
		if !reflect.DeepEqual(normalize(p), normalize(p2)) {
			t.Fatalf("re-encoding changed the payload:\n%+v\n%+v", p, p2)
		}
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
