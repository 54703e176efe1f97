package license

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTamperMatrix: every way of getting a license wrong is refused with
// its own sentinel and a detail naming the key, field, date or cluster.
func TestTamperMatrix(t *testing.T) {
	t.Parallel()
	good := mustSeal(t, examplePayload(t), vendorKey, testKeyID)
	env, err := Open(good)
	require.NoError(t, err)

	// reseal builds an envelope by hand, to sign what Seal would refuse.
	reseal := func(payload []byte, key []byte, id KeyID) []byte {
		return seal(payload, key, id)
	}
	withEnvelope := func(change func(e *Envelope)) []byte {
		e := *env
		e.Payload = bytes.Clone(env.Payload)
		e.Signature = bytes.Clone(env.Signature)
		change(&e)
		return e.Marshal()
	}

	tests := []struct {
		name   string
		text   []byte
		opts   VerifyOptions
		want   error
		detail []string
	}{
		{
			name: "flipped bit in the payload",
			text: withEnvelope(func(e *Envelope) { e.Payload[40] ^= 0x01 }),
			want: ErrBadSignature, detail: []string{`vendor key "vendor-2026"`},
		},
		{
			name: "flipped bit in the signature",
			text: withEnvelope(func(e *Envelope) { e.Signature[7] ^= 0x80 }),
			want: ErrBadSignature, detail: []string{`vendor key "vendor-2026"`},
		},
		{
			name: "truncated before END",
			text: good[:len(good)/2],
			want: ErrMalformed, detail: []string{"no -----END LICMESH LICENSE----- line after line 1", "cut short"},
		},
		{
			name: "truncated payload line",
			text: []byte(strings.Replace(string(good), "\n=", "x\n=", 1)),
			want: ErrMalformed, detail: []string{"line"},
		},
		{
			name: "a whole payload line dropped",
			text: func() []byte {
				lines := strings.Split(string(good), "\n")
				return []byte(strings.Join(append(lines[:3:3], lines[4:]...), "\n"))
			}(),
			want: ErrBadSignature, detail: []string{`vendor key "vendor-2026"`},
		},
		{
			name: "signed with another vendor's key under our key id",
			text: reseal(examplePayload(t), rogueKey, testKeyID),
			want: ErrBadSignature, detail: []string{`vendor key "vendor-2026"`},
		},
		{
			name: "relabelled to another trusted key id",
			text: withEnvelope(func(e *Envelope) { e.KeyID = oldKeyID }),
			want: ErrBadSignature, detail: []string{`vendor key "vendor-2025"`},
		},
		{
			name: "unknown key id",
			text: reseal(examplePayload(t), rogueKey, "vendor-2099"),
			want: ErrUnknownKey, detail: []string{`"vendor-2099"`, "trusted: vendor-2025, vendor-2026"},
		},
		{
			name: "bound to another cluster",
			text: good,
			opts: VerifyOptions{ClusterID: otherCluster, Now: tAfter},
			want: ErrWrongCluster, detail: []string{`bound to cluster "lm-0123456789ab"`, `this is cluster "lm-ba9876543210"`},
		},
		{
			name: "bound, and no cluster to check against",
			text: good,
			opts: VerifyOptions{Now: tAfter},
			want: ErrWrongCluster, detail: []string{`"lm-0123456789ab"`, "no cluster ID was given"},
		},
		{
			name: "expired past its grace",
			text: good,
			opts: VerifyOptions{ClusterID: testCluster, Now: tExpiry.Add(15 * day)},
			want: ErrExpired, detail: []string{"expired 2027-01-01T00:00:00Z", "grace of 14d ended 2027-01-15T00:00:00Z", "trusted time is 2027-01-16T00:00:00Z"},
		},
		{
			name: "expired by trusted time although the clock says otherwise",
			text: good,
			opts: VerifyOptions{ClusterID: testCluster, Now: tAfter, TrustedTime: tExpiry.Add(20 * day)},
			want: ErrExpired, detail: []string{"trusted time is 2027-01-21T00:00:00Z"},
		},
		{
			name: "not yet valid",
			text: good,
			opts: VerifyOptions{ClusterID: testCluster, Now: tStart.Add(-time.Hour)},
			want: ErrNotYetValid, detail: []string{"valid from 2026-01-01T00:00:00Z", "trusted time is 2025-12-31T23:00:00Z"},
		},
		{
			name: "a changed field with the old signature",
			text: withEnvelope(func(e *Envelope) {
				e.Payload = bytes.Replace(e.Payload, []byte(`"quantity": 10`), []byte(`"quantity": 99`), 1)
			}),
			want: ErrBadSignature, detail: []string{`vendor key "vendor-2026"`},
		},
		{
			name: "a changed cluster with the old signature",
			text: withEnvelope(func(e *Envelope) {
				e.Payload = bytes.Replace(e.Payload, []byte(testCluster), []byte(otherCluster), 1)
			}),
			opts: VerifyOptions{ClusterID: otherCluster, Now: tAfter},
			want: ErrBadSignature, detail: []string{`vendor key "vendor-2026"`},
		},
		{
			name: "signed but invalid field",
			text: reseal(mutate(t, func(m map[string]any) { obj(m, "product")["sku"] = "bad sku" }), vendorKey, testKeyID),
			want: ErrInvalidField, detail: []string{"product.sku", `"bad sku"`},
		},
		{
			name: "signed but unknown field",
			text: reseal(mutate(t, func(m map[string]any) { m["seats_forever"] = true }), vendorKey, testKeyID),
			want: ErrInvalidPayload, detail: []string{`unknown field "seats_forever"`},
		},
		{
			name: "signed newer format",
			text: reseal(mutate(t, func(m map[string]any) { m["format"] = 2; m["new_thing"] = 1 }), vendorKey, testKeyID),
			want: ErrUnsupportedFormat, detail: []string{"format 2", "reads format 1"},
		},
		{
			name: "too large",
			text: append(bytes.Repeat([]byte(" "), MaxTextSize), good...),
			want: ErrTooLarge, detail: []string{"at most 262144"},
		},
		{
			name: "no time given",
			text: good,
			opts: VerifyOptions{ClusterID: testCluster},
			want: ErrInvalidOptions, detail: []string{"Now"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := tt.opts
			if opts.Now.IsZero() && opts.ClusterID == "" && tt.want != ErrWrongCluster && tt.want != ErrInvalidOptions {
				opts = VerifyOptions{ClusterID: testCluster, Now: tAfter}
			}
			l, err := Verify(tt.text, testKeyring(t), opts)
			require.Error(t, err, "verified; want %v", tt.want)
			sentinelOf(t, err) // exactly one sentinel
			require.ErrorIs(t, err, tt.want)
			for _, d := range tt.detail {
				assert.ErrorContains(t, err, d)
			}
			genuine := tt.want == ErrWrongCluster || tt.want == ErrExpired || tt.want == ErrNotYetValid
			assert.Equal(t, genuine, l != nil, "license returned (only genuine licenses out of place or time are)")
		})
	}
}

// TestEveryBitFlipIsRefused flips each bit of a license's text in turn:
// none verifies, and each refusal is one of the envelope's sentinels. The
// final newline is outside the armour (surrounding white space is
// tolerated by design) and is left out.
func TestEveryBitFlipIsRefused(t *testing.T) {
	t.Parallel()
	good := mustSeal(t, examplePayload(t), vendorKey, testKeyID)
	keys := testKeyring(t)
	opts := VerifyOptions{ClusterID: testCluster, Now: tAfter}
	counts := map[error]int{}
	buf := make([]byte, len(good))
	for i := 0; i < len(good)-1; i++ {
		for bit := range 8 {
			copy(buf, good)
			buf[i] ^= 1 << bit
			_, err := Verify(buf, keys, opts)
			require.Error(t, err, "flipping bit %d of byte %d (%q) still verifies", bit, i, good[i])
			s := sentinelOf(t, err)
			require.Contains(t, []error{ErrMalformed, ErrBadSignature, ErrUnknownKey}, s,
				"flipping bit %d of byte %d: unexpected error %v", bit, i, err)
			counts[s]++
		}
	}
	t.Logf("bit flips refused: %d malformed, %d bad signature, %d unknown key",
		counts[ErrMalformed], counts[ErrBadSignature], counts[ErrUnknownKey])
}

// TestEveryTruncationIsRefused cuts the license at every byte.
func TestEveryTruncationIsRefused(t *testing.T) {
	t.Parallel()
	good := mustSeal(t, examplePayload(t), vendorKey, testKeyID)
	keys := testKeyring(t)
	cut := len(good) - len("-----END LICMESH LICENSE-----\n")
	for n := 0; n < cut+len(endMarker); n++ {
		_, err := Verify(good[:n], keys, VerifyOptions{ClusterID: testCluster, Now: tAfter})
		require.ErrorIs(t, err, ErrMalformed, "cut at %d", n)
	}
}

// TestVerifyAccepts covers the good paths: the current key, the previous
// key during a rotation, an unbound license anywhere, a bound one offline
// with AnyCluster, and a license in its grace period.
func TestVerifyAccepts(t *testing.T) {
	t.Parallel()
	keys := testKeyring(t)
	unbound := mutate(t, func(m map[string]any) { delete(m, "cluster_id") })
	cases := []struct {
		name string
		text []byte
		opts VerifyOptions
	}{
		{"current key", mustSeal(t, examplePayload(t), vendorKey, testKeyID), VerifyOptions{ClusterID: testCluster, Now: tAfter}},
		{"previous key", mustSeal(t, examplePayload(t), oldKey, oldKeyID), VerifyOptions{ClusterID: testCluster, Now: tAfter}},
		{"unbound anywhere", mustSeal(t, unbound, vendorKey, testKeyID), VerifyOptions{ClusterID: otherCluster, Now: tAfter}},
		{"unbound, no cluster", mustSeal(t, unbound, vendorKey, testKeyID), VerifyOptions{Now: tAfter}},
		{"bound, any cluster", mustSeal(t, examplePayload(t), vendorKey, testKeyID), VerifyOptions{AnyCluster: true, Now: tAfter}},
		{"in grace", mustSeal(t, examplePayload(t), vendorKey, testKeyID), VerifyOptions{ClusterID: testCluster, Now: tExpiry.Add(13 * day)}},
		{"first instant", mustSeal(t, examplePayload(t), vendorKey, testKeyID), VerifyOptions{ClusterID: testCluster, Now: tStart}},
	}
	for _, c := range cases {
		l, err := Verify(c.text, keys, c.opts)
		if !assert.NoError(t, err, c.name) {
			continue
		}
		assert.Equal(t, LicenseID("lic-2026-0001"), l.ID, "%s: license ID", c.name)
		assert.Equal(t, SKU("timesheet-admin-user"), l.Product.SKU, "%s: SKU", c.name)
		assert.Equal(t, 10, l.Quantity, "%s: quantity", c.name)
		assert.Equal(t, string(c.text), string(l.Text), "%s: License.Text is not the sealed text", c.name)
	}
}

// TestSignatureIsDomainSeparated: a bare Ed25519 signature over the
// payload bytes (what a careless use of the same key for something else
// would produce) does not verify as a license.
func TestSignatureIsDomainSeparated(t *testing.T) {
	t.Parallel()
	payload := examplePayload(t)
	e := Envelope{KeyID: testKeyID, Payload: payload, Signature: edSign(vendorKey, payload)}
	_, err := Verify(e.Marshal(), testKeyring(t), VerifyOptions{ClusterID: testCluster, Now: tAfter})
	require.ErrorIs(t, err, ErrBadSignature, "bare signature")
}
