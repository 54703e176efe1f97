package entitlement

import (
	"bytes"
	"crypto/ed25519"
	"github.com/licmesh/licmesh/licensing/alert"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	key   = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	other = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, ed25519.SeedSize))
	t0    = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
)

const day = 24 * time.Hour

func doc() *Document {
	return &Document{
		Format: FormatVersion, ClusterID: "acme", CollectorID: "col-1", Serial: 42, IssuedAt: t0,
		Entitlements: []Entitlement{
			{
				License: "sub-1", Customer: "Acme", Product: Product{SKU: "ts", Name: "Timesheet"}, Type: "subscription",
				NotBefore: t0.Add(-day), ExpiresAt: t0.Add(30 * day), GraceEnd: t0.Add(44 * day), Covered: true,
				Features: []string{"approvals", "reports"}, Pools: []Pool{{Name: "designer", Seats: 5, Enforce: "hard"}},
			},
			{
				License: "perp-1", Product: Product{SKU: "pm"}, Type: "perpetual", NotBefore: t0.Add(-day),
				Covered: true, Features: []string{"reports"},
			},
			{
				License: "vol-1", Product: Product{SKU: "ts"}, Type: "volume", NotBefore: t0.Add(-day),
				ExpiresAt: t0.Add(300 * day), GraceEnd: t0.Add(300 * day), Covered: false,
				Note: "covers 2 installations, all taken", Features: []string{"volume-only"},
			},
		},
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	tok, err := Sign(doc(), key)
	require.NoError(t, err)
	d, err := Verify(tok, key.Public().(ed25519.PublicKey))
	require.NoError(t, err, "Verify")
	// Round trip must not lose data.
	assert.Equal(t, uint64(42), d.Serial, "serial")
	assert.True(t, d.IssuedAt.Equal(t0), "issued at %v, want %v", d.IssuedAt, t0)
	require.Len(t, d.Entitlements, 3, "entitlements: %+v", d.Entitlements)
	require.NotEmpty(t, d.Entitlements[0].Pools, "pools")
	assert.Equal(t, 5, d.Entitlements[0].Pools[0].Seats, "seats")
}

func TestVerifyRefusesTampering(t *testing.T) {
	pub := key.Public().(ed25519.PublicKey)
	tok, err := Sign(doc(), key)
	require.NoError(t, err)
	otherTok, err := Sign(doc(), other)
	require.NoError(t, err)
	p64 := strings.Split(tok, ".")[1]
	cases := map[string]struct {
		tok  string
		want error
	}{
		"other cluster key": {otherTok, ErrBadSignature},
		"truncated":         {tok[:len(tok)-3], ErrMalformed},
		"no prefix":         {strings.TrimPrefix(tok, "lme1."), ErrMalformed},
		"lease prefix":      {"lml1." + strings.TrimPrefix(tok, "lme1."), ErrMalformed},
		"extra part":        {tok + ".AAAA", ErrMalformed},
		"empty":             {"", ErrMalformed},
		"too long":          {"lme1." + strings.Repeat("A", MaxTokenLen), ErrMalformed},
		"swapped payload":   {strings.Replace(otherTok, strings.Split(otherTok, ".")[1], p64, 1), ErrBadSignature},
	}
	for name, tc := range cases {
		_, err := Verify(tc.tok, pub)
		assert.ErrorIs(t, err, tc.want, "%s: Verify", name)
	}
	// Every single-bit flip in the text is refused.
	for i := len("lme1."); i < len(tok); i++ {
		for bit := range 8 {
			b := []byte(tok)
			b[i] ^= 1 << bit
			_, err := Verify(string(b), pub)
			require.Error(t, err, "flip of bit %d at %d accepted", bit, i)
		}
	}
}

func TestSignRefusesInvalidDocuments(t *testing.T) {
	for name, mod := range map[string]func(*Document){
		"format":           func(d *Document) { d.Format = 2 },
		"no cluster":       func(d *Document) { d.ClusterID = "" },
		"zero serial":      func(d *Document) { d.Serial = 0 },
		"no issued_at":     func(d *Document) { d.IssuedAt = time.Time{} },
		"repeat license":   func(d *Document) { d.Entitlements[1].License = "sub-1" },
		"no sku":           func(d *Document) { d.Entitlements[0].Product.SKU = "" },
		"grace before end": func(d *Document) { d.Entitlements[0].GraceEnd = t0 },
		"operations rule":  func(d *Document) { d.NoticeRules = []alert.Rule{{Kind: alert.PoolUsage, Thresholds: []int{80}}} },
		"bad schedule":     func(d *Document) { d.NoticeRules = []alert.Rule{{Kind: alert.LicenseExpiry, Thresholds: []int{-3}}} },
	} {
		d := doc()
		mod(d)
		_, err := Sign(d, key)
		assert.ErrorIs(t, err, ErrMalformed, "%s: Sign", name)
	}
}

func TestPhases(t *testing.T) {
	e := doc().Entitlements[0]
	for _, tc := range []struct {
		at   time.Time
		want Phase
	}{
		{t0.Add(-2 * day), NotYetValid},
		{t0, Active},
		{t0.Add(30 * day), InGrace},
		{t0.Add(44*day - time.Millisecond), InGrace},
		{t0.Add(44 * day), Expired},
	} {
		assert.Equal(t, tc.want, e.PhaseAt(tc.at), "PhaseAt(%v)", tc.at)
	}
	p := doc().Entitlements[1]
	assert.Equal(t, Active, p.PhaseAt(t0.Add(100*365*day)), "a perpetual license ended")
}

func TestFeature(t *testing.T) {
	d := doc()
	for _, tc := range []struct {
		name, feature, sku string
		at                 time.Time
		enabled            bool
		license, reason    string
	}{
		{"on", "approvals", "", t0, true, "sub-1", ""},
		{"on for its product", "approvals", "ts", t0, true, "sub-1", ""},
		{"other product", "approvals", "pm", t0, false, "", `no license for product "pm" enables "approvals"`},
		{"perpetual outlasts", "reports", "", t0, true, "perp-1", ""},
		{"in grace says so", "approvals", "", t0.Add(31 * day), true, "sub-1", "in grace until"},
		{"expired after grace", "approvals", "", t0.Add(44 * day), false, "", "expired"},
		{"not covered", "volume-only", "", t0, false, "", "does not cover this installation: covers 2"},
		{"not yet valid", "approvals", "", t0.Add(-2 * day), false, "", "starts"},
		{"unknown", "nope", "", t0, false, "", `no license enables "nope"`},
	} {
		c := d.Feature(tc.feature, tc.sku, tc.at)
		assert.Equal(t, tc.enabled, c.Enabled, "%s: Feature = %+v", tc.name, c)
		assert.Equal(t, tc.license, c.License, "%s: Feature = %+v", tc.name, c)
		assert.Contains(t, c.Reason, tc.reason, "%s: Feature = %+v", tc.name, c)
	}
}

func FuzzVerify(f *testing.F) {
	tok, err := Sign(doc(), key)
	require.NoError(f, err)
	f.Add(tok)
	f.Add("lme1.e30.AAAA")
	f.Add("")
	pub := key.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Verify(s, pub)
		if err == nil {
			require.NoError(t, d.Validate(), "verified an invalid document")
			_, err := Sign(d, key)
			require.NoError(t, err, "verified document does not sign again")
		}
	})
}

// TestFailsOpen: a pool fails open only if every license in force that
// grants it says so.
func TestFailsOpen(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	ent := func(id string, failOpen bool, expires time.Time) Entitlement {
		return Entitlement{License: id, NotBefore: t0.Add(-time.Hour), ExpiresAt: expires, GraceEnd: expires, Covered: true,
			Pools: []Pool{{Name: "seats", Seats: 1, Enforce: "hard", FailOpen: failOpen}}}
	}
	later := t0.Add(24 * time.Hour)
	d := &Document{Entitlements: []Entitlement{ent("a", true, later)}}
	assert.True(t, d.FailsOpen("seats", t0))
	assert.False(t, d.FailsOpen("other", t0), "a pool no license grants")
	assert.False(t, d.FailsOpen("seats", later), "a license no longer in force")
	d.Entitlements = append(d.Entitlements, ent("b", false, later))
	assert.False(t, d.FailsOpen("seats", t0), "one license failing closed keeps it closed")
	d.Entitlements[1] = ent("b", false, t0.Add(-time.Minute))
	assert.True(t, d.FailsOpen("seats", t0), "an ended license does not count")
}
