package fsm

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/alert"
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
		AddLicenseType:      AddLicense{Text: fuzzLicense(), Now: t0},
		RemoveLicenseType:   RemoveLicense{ID: "lic-1", Now: t0},
		ConsumeCreditsType:  consume(1, "case", 2, t0),
		UsageBatchType:      UsageBatch{Now: t0, Collector: "c1", Installation: testInst, Epoch: 2, Records: recs(t0, 1, 2)},
		SetSiteZoneType:     SetSiteZone{Zone: "Europe/Paris", Now: t0},
		SetUpstreamType:     SetUpstream{Hub: HubLink{URL: "https://hub.example:7500", CompanyID: "co_1", ActivatedAt: t0}, Now: t0},
		SealUpstreamType:    sampleSeal(),
		AckUpstreamType:     AckUpstream{Seq: 1, Hash: strings.Repeat("ab", 32), Via: "online", Now: t0},
		UpstreamCheckedType: UpstreamChecked{Summary: "1 license renewed", Now: t0},
		SetAlertRuleType:    SetAlertRule{Rule: alert.Rule{Kind: alert.LicenseExpiry, Thresholds: []int{30, 7}}, By: "admin", Now: t0},
		FireAlertsType:      FireAlerts{Fire: []alert.Alert{{Key: "pool_usage/p/80%", Kind: alert.PoolUsage, Subject: "p", Threshold: "80%", Severity: alert.Warning, Summary: "pool p is at 80%"}}, Resolve: []string{"clock_tampered/cluster"}, Now: t0},
		AckAlertType:        AckAlert{Key: "pool_usage/p/80%", By: "admin", Now: t0},
		SetAlertChannelType: SetAlertChannel{Channel: AlertChannel{ID: "ops", Kind: ChannelWebhook, URL: "https://hooks.example.com/licmesh",
			Secret: "0123456789abcdef0123"}, Now: t0},
		TestAlertChannelType: TestAlertChannel{Channel: "ops", By: "admin", Now: t0},
		AlertDeliveredType:   AlertDelivered{ID: "ops/test#1", OK: true, Now: t0},
		CreateUserType:       CreateUser{Name: "alice", Role: RoleViewer, PasswordHash: testPasswordHash, By: "admin", Now: t0},
		UpdateUserType:       UpdateUser{Name: "alice", Role: RoleIT, By: "admin", Now: t0},
		AuditedType: Audited{Info: testAuditInfo("req1"), Type: RevokeTokenType,
			Body: []byte(`{"ID":"tok1","Now":1780000000000}`), Now: t0},
		AuditEventType: AuditEvent{Info: testAuditInfo("req2"), Outcome: "permission denied", Code: "permission_denied", Now: t0},
		SetAlertPrefsType: SetAlertPrefs{User: "alice", Prefs: AlertPrefs{Email: "alice@acme.example", QuietFrom: "22:00", QuietTo: "07:00", Zone: "Europe/Paris"},
			By: "user:alice", Now: t0},
		RequestPurchaseType:   RequestPurchase{Purchase: Purchase{ID: "pr-1", SKU: "designer-suite", Pool: "designer", Quantity: 5, RequestedBy: "user:lem"}, Now: t0},
		DecidePurchaseType:    DecidePurchase{ID: "pr-1", Approve: true, By: "user:ada", Now: t0},
		PurchaseProgressType:  PurchaseProgress{ID: "pr-1", Sent: true, Via: "online", Now: t0},
		SetUpdateSettingsType: SetUpdateSettings{Settings: UpdateSettings{Channel: "beta", Plan: RolloutPlan{Canary: 1, BatchSize: 2}}, Now: t0},
		UpdateCheckedType: UpdateChecked{Source: "hub", Trust: &ReleaseTrust{Root: []byte(`{"signed":{}}`)}, Releases: []KnownRelease{{Version: "1.2.0", Channel: "stable", Released: t0,
			Artifacts: []ReleaseArtifact{{Name: "1.2.0/collectord-linux-amd64", Component: "collectord", OS: "linux", Arch: "amd64", SHA256: strings.Repeat("ab", 32), Size: 10}}}}, Now: t0},
		ArtifactStoredType: ArtifactStored{Node: "m1", SHA256: []string{strings.Repeat("ab", 32)}, Now: t0},
		RolloutChangeType: RolloutChange{RolloutID: "ro-1", Start: &Rollout{ID: "ro-1", Version: "1.2.0", StartedBy: "admin", Phase: PhaseCollectors,
			Collectors: []RolloutUnit{{ID: "c1", From: "1.1.0", State: UnitPending}}, Masters: []RolloutUnit{{ID: "m1", From: "1.1.0", State: UnitPending}}}, Now: t0},
		SetLicenseCostType: SetLicenseCost{Cost: LicenseCost{License: "lic-1", Amount: 120000, Currency: "EUR", Period: "year", Owner: "finance"}, By: "admin", Now: t0},
		SetDepartmentType:  SetDepartment{Department: Department{Name: "eng", Holders: []string{"alice"}, Collectors: []string{"c1"}}, By: "admin", Now: t0},
		SetReservationType: SetReservation{Reservation: Reservation{Pool: "p", Department: "eng", Reserved: 1, Cap: 2}, By: "admin", Now: t0},
		MarkAlertsReadType: MarkAlertsRead{User: "alice", Keys: []string{"pool_usage/p/80%"}, Now: t0},
		BorrowLeaseType:    BorrowLease{Now: t0, Pool: "p", Holder: "alice", CollectorID: "c1", TTLms: 30000, Until: t0 + 3*dayMs},
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
			require.Equal(t, byte(mt), b[0], "%s: type byte", mt)
			gt, got, err := Decode(b)
			require.NoError(t, err, "%s: Decode", mt)
			require.Equal(t, mt, gt, "%s: decoded type", mt)
			require.Equal(t, cmd, reflect.ValueOf(got).Elem().Interface(), "%s: round trip", mt)
		}
	}
}

func ptrTo(c command) any {
	v := reflect.New(reflect.TypeOf(c))
	v.Elem().Set(reflect.ValueOf(c))
	return v.Interface()
}

// releasedTypes are the message types released so far, with their names.
// The enum is append-only: a released value keeps its name and its command
// forever, so this list only grows.
var releasedTypes = map[MsgType]string{
	1: "Bootstrap", 2: "CreatePool", 3: "UpdatePool", 4: "LeaseBatch", 5: "CreateToken",
	6: "RevokeToken", 7: "Enroll", 8: "RenewCert", 9: "CollectorSeen", 10: "AddLicense",
	11: "RemoveLicense", 12: "ConsumeCredits", 13: "UsageBatch", 14: "SetSiteZone",
}

// msgTypeConsts reads the MsgType constants declared in msgtype.go, by
// name, so that the table test sees a constant someone adds without
// being told about it.
func msgTypeConsts(t *testing.T) map[string]MsgType {
	t.Helper()
	file, err := parser.ParseFile(token.NewFileSet(), "msgtype.go", nil, 0)
	require.NoError(t, err)
	out := map[string]MsgType{}
	for _, d := range file.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "MsgType" {
				continue
			}
			for i, name := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				require.True(t, ok, "%s: want a literal value, so that it never moves", name.Name)
				v, err := strconv.ParseUint(lit.Value, 0, 8)
				require.NoError(t, err, name.Name)
				out[name.Name] = MsgType(v)
			}
		}
	}
	require.Equal(t, IgnoreUnknownTypeFlag, out["IgnoreUnknownTypeFlag"])
	delete(out, "IgnoreUnknownTypeFlag")
	return out
}

// TestMessageTable: every message type constant has its row in messages,
// named after it, and no row is without a constant; names are unique;
// released types keep their values and names; and each row's constructor
// makes the command its type encodes, which decodes into it and applies
// through the row.
func TestMessageTable(t *testing.T) {
	consts := msgTypeConsts(t)
	require.NotEmpty(t, consts)
	byValue := map[MsgType]string{}
	for name, mt := range consts {
		require.NotZero(t, mt, "%s: 0 is never a message type", name)
		require.Zero(t, mt&IgnoreUnknownTypeFlag, "%s: the flag bit is not a type", name)
		other, dup := byValue[mt]
		require.False(t, dup, "%s and %s share the value %d", name, other, mt)
		byValue[mt] = name
		m, ok := mt.message()
		require.True(t, ok, "%s (%d) has no row in messages", name, mt)
		assert.Equal(t, strings.TrimSuffix(name, "Type"), m.name, "%s: row name", name)
		assert.Equal(t, m.name, mt.String())
	}
	names := map[string]MsgType{}
	for i, m := range messages {
		mt := MsgType(i)
		if m.new == nil {
			require.Nil(t, m.apply, "%d: row with apply but no constructor", i)
			_, ok := byValue[mt]
			assert.False(t, ok, "%s has an empty row", mt)
			continue
		}
		require.NotNil(t, m.apply, "%s: no apply function", mt)
		require.NotEmpty(t, m.name, "%d: no name", i)
		other, dup := names[m.name]
		require.False(t, dup, "%d and %d are both named %s", other, mt, m.name)
		names[m.name] = mt
		_, ok := byValue[mt]
		assert.True(t, ok, "row %d (%s) has no constant", i, m.name)
	}
	for mt, name := range releasedTypes {
		assert.Equal(t, name+"Type", byValue[mt], "released type %d was renumbered or renamed", mt)
	}
	// A new type needs a sample command, which the round-trip, validation
	// and fuzz tests then cover.
	samples := allCommands()
	assert.Len(t, samples, len(byValue), "allCommands needs one command per message type")

	for mt := range byValue {
		m, _ := mt.message()
		c := m.new()
		require.NotNil(t, c, "%s: constructor", mt)
		require.Equal(t, reflect.Pointer, reflect.TypeOf(c).Kind(), "%s: constructor must return a pointer to decode into", mt)
		assert.Equal(t, mt, c.msgType(), "%s: constructor makes a %T", mt, c)
		assert.NotSame(t, c, m.new(), "%s: constructor must return a fresh command", mt)
		sample, ok := samples[mt]
		require.True(t, ok, "%s has no sample in allCommands", mt)
		assert.Equal(t, reflect.TypeOf(sample), reflect.TypeOf(c).Elem(), "%s: constructor and sample differ", mt)
		_, got, err := Decode(encode(t, mt, sample))
		require.NoError(t, err, "%s", mt)
		assert.IsType(t, c, got, "%s: Decode's command", mt)
	}
}

// TestEveryTypeApplies: each sample command reaches its apply function:
// before Bootstrap everything but Bootstrap is refused as not
// bootstrapped, and after it every type applies or is refused by a rule
// of its own, never as malformed or unknown.
func TestEveryTypeApplies(t *testing.T) {
	for mt, cmd := range allCommands() {
		r := newHarness(t).apply(mt, cmd)
		if mt == BootstrapType {
			assert.NoError(t, r.Err, "%s on an empty FSM", mt)
			continue
		}
		assert.ErrorIs(t, r.Err, ErrNotBootstrapped, "%s on an empty FSM", mt)
	}
	for mt, cmd := range allCommands() {
		h := bootstrapped(t)
		var r Response
		require.NotPanics(t, func() { r = h.apply(mt, cmd) }, "%s", mt)
		assert.NotErrorIs(t, r.Err, ErrMalformed, "%s", mt)
		assert.NotErrorIs(t, r.Err, ErrUnknownMsgType, "%s", mt)
		if mt == BootstrapType {
			assert.ErrorIs(t, r.Err, ErrAlreadyBootstrapped)
		}
	}
}

func TestEncodeRefuses(t *testing.T) {
	_, err := Encode(CreatePoolType, RevokeToken{ID: "x", Now: t0})
	assert.ErrorIs(t, err, ErrWrongCommand, "mismatched type")
	_, err = Encode(CreatePoolType, "hello")
	assert.ErrorIs(t, err, ErrWrongCommand, "non-command")
	_, err = Encode(CreatePoolType, (*CreatePool)(nil))
	assert.ErrorIs(t, err, ErrWrongCommand, "nil pointer")
	_, err = Encode(CreatePoolType, CreatePool{Pool: lease.Pool{Name: "Bad"}, Now: t0})
	assert.ErrorIs(t, err, ErrMalformed, "invalid pool")
	_, err = Encode(RevokeTokenType, RevokeToken{ID: "x"})
	assert.ErrorIs(t, err, ErrMalformed, "missing Now")
	b, err := Encode(RevokeTokenType|IgnoreUnknownTypeFlag, RevokeToken{ID: "x", Now: t0})
	if assert.NoError(t, err, "flagged type") {
		assert.Equal(t, RevokeTokenType|IgnoreUnknownTypeFlag, MsgType(b[0]), "flagged type")
	}
	_, err = Encode(MsgType(len(messages)), RevokeToken{ID: "x", Now: t0})
	assert.ErrorIs(t, err, ErrWrongCommand, "unknown type")
}

func TestDecodeStrict(t *testing.T) {
	good := encode(t, RevokeTokenType, RevokeToken{ID: "tok1", Now: t0})
	body := string(good[1:])
	withType := func(s string) []byte { return append([]byte{byte(RevokeTokenType)}, s...) }
	cases := map[string]struct {
		data []byte
		want error
	}{
		"empty":          {nil, ErrMalformed},
		"type only":      {[]byte{byte(RevokeTokenType)}, ErrMalformed},
		"unknown field":  {withType(`{"ID":"tok1","Now":1,"Extra":true}`), ErrMalformed},
		"trailing":       {withType(body + `{}`), ErrMalformed},
		"trailing junk":  {withType(body + `x`), ErrMalformed},
		"not object":     {withType(`[1,2]`), ErrMalformed},
		"null":           {withType(`null`), ErrMalformed},
		"wrong type":     {withType(`{"ID":5,"Now":1}`), ErrMalformed},
		"bad id":         {withType(`{"ID":"a b","Now":1}`), ErrMalformed},
		"unknown type":   {append([]byte{42}, body...), ErrUnknownMsgType},
		"unknown flag":   {append([]byte{42 | 0x80}, body...), ErrUnknownMsgType},
		"type zero":      {append([]byte{0}, body...), ErrUnknownMsgType},
		"past the table": {append([]byte{byte(len(messages))}, body...), ErrUnknownMsgType},
		"last type":      {append([]byte{0x7f}, body...), ErrUnknownMsgType},
		"too large":      {withType(body + strings.Repeat(" ", MaxCommandSize)), ErrMalformed},
		"bad hash":       {append([]byte{byte(EnrollType)}, `{"SecretHash":"zz"}`...), ErrMalformed},
		"bad kind":       {append([]byte{byte(LeaseBatchType)}, `{"Now":1,"Ops":[{"Kind":"steal"}]}`...), ErrMalformed},
		"bad enforce":    {append([]byte{byte(CreatePoolType)}, `{"Now":1,"Pool":{"Name":"p","Seats":1,"Enforce":"x"}}`...), ErrMalformed},
		"empty enforce":  {append([]byte{byte(CreatePoolType)}, `{"Now":1,"Pool":{"Name":"p","Seats":1,"Enforce":""}}`...), ErrMalformed},
		"no enforce":     {append([]byte{byte(CreatePoolType)}, `{"Now":1,"Pool":{"Name":"p","Seats":1}}`...), ErrMalformed},
	}
	for name, c := range cases {
		_, _, err := Decode(c.data)
		assert.ErrorIs(t, err, c.want, "%s: Decode", name)
	}
	// Whitespace around the object is tolerated: JSON allows it.
	_, _, err := Decode(withType(" " + body + "\n"))
	assert.NoError(t, err, "whitespace")
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
		assert.ErrorIs(t, c.validate(), ErrMalformed, "%s: validate", name)
	}
	for mt, c := range allCommands() {
		assert.NoError(t, c.validate(), "%s: valid command refused", mt)
	}
}

// TestAcquireHolderLimit: a holder of lease.MaxHolderLen bytes is the
// longest an acquire takes; one byte more is refused, as it is at the
// master and the collector, before it can reach a lease document.
func TestAcquireHolderLimit(t *testing.T) {
	ok := acq("p", strings.Repeat("h", lease.MaxHolderLen), "c1")
	assert.NoError(t, validateOp(&ok), "holder of %d bytes", lease.MaxHolderLen)
	for name, holder := range map[string]string{
		"256 bytes": strings.Repeat("h", 256),
		"too long":  strings.Repeat("h", lease.MaxHolderLen+1),
		"empty":     "",
		"control":   "al\x00ice",
	} {
		op := acq("p", holder, "c1")
		assert.ErrorIs(t, validateOp(&op), ErrInvalidOp, name)
	}

	h := bootstrapped(t)
	h.pool("p", 1, lease.Hard)
	r := h.batch(t0, acq("p", strings.Repeat("h", 256), "c1"), acq("p", strings.Repeat("h", lease.MaxHolderLen), "c1"))
	assert.ErrorIs(t, r[0].Err, ErrInvalidOp, "256-byte holder")
	assert.NoError(t, r[1].Err, "%d-byte holder", lease.MaxHolderLen)
}

func TestMsgTypeString(t *testing.T) {
	assert.Equal(t, "LeaseBatch|ignore-unknown", (LeaseBatchType | IgnoreUnknownTypeFlag).String())
	assert.Equal(t, "RemoveLicense", RemoveLicenseType.String())
	assert.Equal(t, "AddLicense", AddLicenseType.String())
	assert.Equal(t, "MsgType(99)", MsgType(99).String())
	assert.Equal(t, "MsgType(0)", MsgType(0).String())
	assert.Equal(t, "MsgType(99)|ignore-unknown", (MsgType(99) | IgnoreUnknownTypeFlag).String())
}

func TestSecretsNotPrinted(t *testing.T) {
	b := testBootstrap()
	tok := Token{ID: "t1", Role: RoleAdmin, SecretHash: Hash{0xAB, 0xCD}}
	assert.NotContains(t, (AddLicense{Text: fuzzLicense(), Now: t0}).String(), "BEGIN", "license text printed")
	for _, s := range []string{b.String(), tok.String(), Hash{0xAB, 0xCD}.String(),
		ClusterInfo{ID: "x", CAKeyPEM: []byte("PRIVATE"), SigningKey: []byte("seedseed")}.String()} {
		for _, secret := range []string{"abcd", "PRIVATE", "seed", "MIIC"} {
			assert.NotContains(t, s, secret, "secret material printed")
		}
	}
}
