package fsm

import (
	"encoding/json"
	"testing"

	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/licensing/license"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAddLicenseRefusals(t *testing.T) {
	h := bootstrapped(t)
	good := sealed(t, testPayload("lic-1"))
	h.ok(AddLicenseType, AddLicense{Text: good, Now: t0})
	before := stateBytes(t, h.f)
	raw := func(text []byte) []byte {
		b, err := jsonCommand(AddLicenseType, AddLicense{Text: text, Now: t0 + 1})
		require.NoError(t, err)
		return b
	}
	tampered := append([]byte(nil), good...)
	tampered[len("-----BEGIN LICMESH LICENSE-----\nKey-Id: vendor-2026\n")+3] ^= 0x01
	for name, data := range map[string][]byte{
		"empty text":      raw(nil),
		"not a license":   raw([]byte("hello")),
		"changed payload": raw(tampered),
		"two licenses":    raw(append(append([]byte(nil), good...), good...)),
		"payload fields":  raw(sealedRaw(t, []byte(`{"format":1}`))),
	} {
		r := h.applyRaw(data)
		assert.ErrorIs(t, r.Err, ErrMalformed, name)
		require.Equal(t, before, stateBytes(t, h.f), "%s: refused license changed the state", name)
	}
	_, err := Encode(AddLicenseType, AddLicense{Text: []byte("x"), Now: t0})
	assert.ErrorIs(t, err, ErrMalformed, "Encode of a malformed license")
	runSteps(t, h, []step{
		{"duplicate id", AddLicenseType, AddLicense{Text: sealed(t, testPayload("lic-1", withPools(license.Pool{Name: "z", Seats: 1, Enforce: lease.Hard}))), Now: t0 + 1}, ErrLicenseExists},
		{"other cluster", AddLicenseType, AddLicense{Text: sealed(t, testPayload("lic-2", func(p *license.Payload) { p.ClusterID = "lm-other" })), Now: t0 + 1}, ErrLicenseCluster},
		{"unbound", AddLicenseType, AddLicense{Text: sealed(t, testPayload("lic-3", func(p *license.Payload) { p.ClusterID = "" })), Now: t0 + 1}, nil},
	})
	// Pasted text is stored in canonical form.
	pasted := append(append([]byte("Here is your license:\r\n\r\n  "), sealed(t, testPayload("lic-4"))...), "\r\nRegards\r\n"...)
	h.ok(AddLicenseType, AddLicense{Text: pasted, Now: t0 + 2})
	l, _ := h.f.License("lic-4")
	require.Equal(t, string(sealed(t, testPayload("lic-4"))), string(l.Text), "stored text")
}

// sealedRaw signs payload bytes that need not be a valid payload, as a
// rogue or buggy vendor tool might.
func sealedRaw(t testing.TB, payload []byte) []byte {
	t.Helper()
	env := license.Envelope{KeyID: vendorKeyID, Payload: payload, Signature: make([]byte, 64)}
	return env.Marshal()
}

// jsonCommand encodes a command without validating it.
func jsonCommand(mt MsgType, cmd any) ([]byte, error) {
	b, err := json.Marshal(cmd)
	if err != nil {
		return nil, err
	}
	return append([]byte{byte(mt)}, b...), nil
}
