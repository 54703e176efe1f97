package fsm

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/licensing/license"
)

func allCommands() map[MsgType]command {
	return map[MsgType]command{
		BootstrapType:  testBootstrap(),
		CreatePoolType: CreatePool{Pool: lease.Pool{Name: "p", Seats: 3, Enforce: lease.Soft}, Now: t0},
		UpdatePoolType: UpdatePool{Pool: lease.Pool{Name: "p", Seats: 1, Enforce: lease.Hard}, Now: t0},
		LeaseBatchType: LeaseBatch{Now: t0, Ops: []LeaseOp{acq("p", "alice", "c1"), rel(70000, "c1"), exp(70001)}},
		CreateTokenType: CreateToken{ID: "tok1", SecretHash: Hash{1}, Role: RoleCollector,
			ExpiresAt: t0 + 1000, MaxUses: 2, Now: t0},
		RevokeTokenType: RevokeToken{ID: "tok1", Now: t0},
		EnrollType: Enroll{TokenID: "tok1", SecretHash: Hash{1}, CollectorID: "c1", Hostname: "host-1",
			Version: "1.2.3", CertSerial: "0a1b", Now: t0},
		RenewCertType: RenewCert{CollectorID: "c1", CertSerial: "0a1c", Now: t0},
		CollectorSeenType: CollectorSeen{Now: t0, Entries: []SeenEntry{
			{CollectorID: "c1", Version: "1.2.4", Protocol: "h3", SeenAt: t0}}},
		AddLicenseType:    AddLicense{Text: fuzzLicense(), Now: t0},
		RemoveLicenseType: RemoveLicense{ID: "lic-1", Now: t0},
		UsageBatchType:    UsageBatch{Now: t0, Collector: "c1", Installation: testInst, Epoch: 2, Records: recs(t0, 1, 2)},
		SetSiteZoneType:   SetSiteZone{Zone: "Europe/Paris", Now: t0},
	}
}

// fuzzLicense is a sealed license for the command tables and fuzz seeds:
// a timesheet subscription whose trial is on at t0.
func fuzzLicense() []byte {
	text, err := license.SealPayload(timesheetPayload("lic-1"), vendorKey, vendorKeyID)
	if err != nil {
		panic(err)
	}
	return text
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for mt, cmd := range allCommands() {
		for _, in := range []any{cmd, ptrTo(cmd)} {
			b := encode(t, mt, in)
			if MsgType(b[0]) != mt {
				t.Fatalf("%s: type byte %d", mt, b[0])
			}
			gt, got, err := Decode(b)
			if err != nil {
				t.Fatalf("%s: Decode: %v", mt, err)
			}
			if gt != mt {
				t.Fatalf("%s: decoded type %s", mt, gt)
			}
			if v := reflect.ValueOf(got).Elem().Interface(); !reflect.DeepEqual(v, cmd) {
				t.Fatalf("%s: round trip\n got %+v\nwant %+v", mt, v, cmd)
			}
		}
	}
}

func ptrTo(c command) any {
	v := reflect.New(reflect.TypeOf(c))
	v.Elem().Set(reflect.ValueOf(c))
	return v.Interface()
}

func TestEncodeRefuses(t *testing.T) {
	if _, err := Encode(CreatePoolType, RevokeToken{ID: "x", Now: t0}); !errors.Is(err, ErrWrongCommand) {
		t.Errorf("mismatched type: %v", err)
	}
	if _, err := Encode(CreatePoolType, "hello"); !errors.Is(err, ErrWrongCommand) {
		t.Errorf("non-command: %v", err)
	}
	if _, err := Encode(CreatePoolType, (*CreatePool)(nil)); !errors.Is(err, ErrWrongCommand) {
		t.Errorf("nil pointer: %v", err)
	}
	if _, err := Encode(CreatePoolType, CreatePool{Pool: lease.Pool{Name: "Bad"}, Now: t0}); !errors.Is(err, ErrMalformed) {
		t.Errorf("invalid pool: %v", err)
	}
	if _, err := Encode(RevokeTokenType, RevokeToken{ID: "x"}); !errors.Is(err, ErrMalformed) {
		t.Errorf("missing Now: %v", err)
	}
	b, err := Encode(RevokeTokenType|IgnoreUnknownTypeFlag, RevokeToken{ID: "x", Now: t0})
	if err != nil || MsgType(b[0]) != RevokeTokenType|IgnoreUnknownTypeFlag {
		t.Errorf("flagged type: %v", err)
	}
}

func TestDecodeStrict(t *testing.T) {
	good := encode(t, RevokeTokenType, RevokeToken{ID: "tok1", Now: t0})
	body := string(good[1:])
	withType := func(s string) []byte { return append([]byte{byte(RevokeTokenType)}, s...) }
	cases := map[string]struct {
		data []byte
		want error
	}{
		"empty":         {nil, ErrMalformed},
		"type only":     {[]byte{byte(RevokeTokenType)}, ErrMalformed},
		"unknown field": {withType(`{"ID":"tok1","Now":1,"Extra":true}`), ErrMalformed},
		"trailing":      {withType(body + `{}`), ErrMalformed},
		"trailing junk": {withType(body + `x`), ErrMalformed},
		"not object":    {withType(`[1,2]`), ErrMalformed},
		"null":          {withType(`null`), ErrMalformed},
		"wrong type":    {withType(`{"ID":5,"Now":1}`), ErrMalformed},
		"bad id":        {withType(`{"ID":"a b","Now":1}`), ErrMalformed},
		"unknown type":  {append([]byte{42}, body...), ErrUnknownMsgType},
		"unknown flag":  {append([]byte{42 | 0x80}, body...), ErrUnknownMsgType},
		"type zero":     {append([]byte{0}, body...), ErrUnknownMsgType},
		"too large":     {withType(body + strings.Repeat(" ", MaxCommandSize)), ErrMalformed},
		"bad hash":      {append([]byte{byte(EnrollType)}, `{"SecretHash":"zz"}`...), ErrMalformed},
		"bad kind":      {append([]byte{byte(LeaseBatchType)}, `{"Now":1,"Ops":[{"Kind":"steal"}]}`...), ErrMalformed},
		"bad enforce":   {append([]byte{byte(CreatePoolType)}, `{"Now":1,"Pool":{"Name":"p","Seats":1,"Enforce":"x"}}`...), ErrMalformed},
	}
	for name, c := range cases {
		_, _, err := Decode(c.data)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: Decode error = %v, want %v", name, err, c.want)
		}
	}
	// Whitespace around the object is tolerated: JSON allows it.
	if _, _, err := Decode(withType(" " + body + "\n")); err != nil {
		t.Errorf("whitespace: %v", err)
	}
}

func TestCommandValidation(t *testing.T) {
	bad := map[string]command{
		"bootstrap short key":   func() Bootstrap { b := testBootstrap(); b.SigningKey = b.SigningKey[:31]; return b }(),
		"bootstrap no CA":       func() Bootstrap { b := testBootstrap(); b.CACertPEM = nil; return b }(),
		"bootstrap no key":      func() Bootstrap { b := testBootstrap(); b.CAKeyPEM = nil; return b }(),
		"bootstrap zero hash":   func() Bootstrap { b := testBootstrap(); b.AdminTokenHash = Hash{}; return b }(),
		"bootstrap bad cluster": func() Bootstrap { b := testBootstrap(); b.ClusterID = "-x"; return b }(),
		"bootstrap big PEM": func() Bootstrap {
			b := testBootstrap()
			b.CACertPEM = bytes.Repeat([]byte{'a'}, MaxPEMLen+1)
			return b
		}(),
		"pool zero enforce":    CreatePool{Pool: lease.Pool{Name: "p", Seats: 1}, Now: t0},
		"pool negative now":    UpdatePool{Pool: lease.Pool{Name: "p", Seats: 1, Enforce: lease.Hard}, Now: -1},
		"batch now zero":       LeaseBatch{Ops: []LeaseOp{acq("p", "h", "c")}},
		"batch too big":        LeaseBatch{Now: t0, Ops: make([]LeaseOp, MaxBatchOps+1)},
		"token role":           CreateToken{ID: "t", SecretHash: Hash{1}, Role: "root", Now: t0},
		"token no hash":        CreateToken{ID: "t", Role: RoleAdmin, Now: t0},
		"token uses":           CreateToken{ID: "t", SecretHash: Hash{1}, Role: RoleAdmin, MaxUses: -1, Now: t0},
		"token expires":        CreateToken{ID: "t", SecretHash: Hash{1}, Role: RoleAdmin, ExpiresAt: -5, Now: t0},
		"revoke no id":         RevokeToken{Now: t0},
		"enroll no serial":     Enroll{TokenID: "t", CollectorID: "c", Now: t0},
		"enroll ctl hostname":  Enroll{TokenID: "t", CollectorID: "c", CertSerial: "1", Hostname: "a\x00", Now: t0},
		"enroll bad collector": Enroll{TokenID: "t", CollectorID: "c/1", CertSerial: "1", Now: t0},
		"renew no serial":      RenewCert{CollectorID: "c", Now: t0},
		"seen bad entry":       CollectorSeen{Now: t0, Entries: []SeenEntry{{CollectorID: "c", SeenAt: 0}}},
		"seen too many":        CollectorSeen{Now: t0, Entries: make([]SeenEntry, MaxSeenEntries+1)},
		"license no text":      AddLicense{Now: t0},
		"license garbage":      AddLicense{Text: []byte("not a license"), Now: t0},
		"license no now":       AddLicense{Text: fuzzLicense()},
		"remove no id":         RemoveLicense{Now: t0},
		"remove bad id":        RemoveLicense{ID: "a b", Now: t0},
	}
	for name, c := range bad {
		if err := c.validate(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: validate = %v, want ErrMalformed", name, err)
		}
	}
	for mt, c := range allCommands() {
		if err := c.validate(); err != nil {
			t.Errorf("%s: valid command refused: %v", mt, err)
		}
	}
}

func TestMsgTypeString(t *testing.T) {
	if s := (LeaseBatchType | IgnoreUnknownTypeFlag).String(); s != "LeaseBatch|ignore-unknown" {
		t.Errorf("String = %q", s)
	}
	if s := RemoveLicenseType.String(); s != "RemoveLicense" || AddLicenseType.String() != "AddLicense" {
		t.Errorf("String = %q", s)
	}
	if s := MsgType(99).String(); s != "MsgType(99)" {
		t.Errorf("String = %q", s)
	}
}

func TestSecretsNotPrinted(t *testing.T) {
	b := testBootstrap()
	tok := Token{ID: "t1", Role: RoleAdmin, SecretHash: Hash{0xAB, 0xCD}}
	if s := (AddLicense{Text: fuzzLicense(), Now: t0}).String(); strings.Contains(s, "BEGIN") {
		t.Errorf("license text printed: %s", s)
	}
	for _, s := range []string{b.String(), tok.String(), Hash{0xAB, 0xCD}.String(),
		ClusterInfo{ID: "x", CAKeyPEM: []byte("PRIVATE"), SigningKey: []byte("seedseed")}.String()} {
		if strings.Contains(s, "abcd") || strings.Contains(s, "PRIVATE") || strings.Contains(s, "seed") || strings.Contains(s, "MIIC") {
			t.Errorf("secret material printed: %s", s)
		}
	}
}
