package fsm

import "strconv"

// MsgType is the first byte of every command in the Raft log. The enum is
// append-only: a value, once released, keeps its meaning forever, and new
// commands take the next free number.
//
// Adding a command takes its constant here, its row in messages and the
// msgType method of its struct; TestMessageTable checks that the three
// agree.
type MsgType uint8

// Message types. Values are stable on disk; never renumber or reuse one.
const (
	BootstrapType         MsgType = 1
	CreatePoolType        MsgType = 2
	UpdatePoolType        MsgType = 3
	LeaseBatchType        MsgType = 4
	CreateTokenType       MsgType = 5
	RevokeTokenType       MsgType = 6
	EnrollType            MsgType = 7
	RenewCertType         MsgType = 8
	CollectorSeenType     MsgType = 9
	AddLicenseType        MsgType = 10
	RemoveLicenseType     MsgType = 11
	ConsumeCreditsType    MsgType = 12
	UsageBatchType        MsgType = 13
	SetSiteZoneType       MsgType = 14
	SetUpstreamType       MsgType = 15
	SealUpstreamType      MsgType = 16
	AckUpstreamType       MsgType = 17
	UpstreamCheckedType   MsgType = 18
	BorrowLeaseType       MsgType = 19
	SetAlertRuleType      MsgType = 20
	FireAlertsType        MsgType = 21
	AckAlertType          MsgType = 22
	SetAlertChannelType   MsgType = 23
	TestAlertChannelType  MsgType = 24
	AlertDeliveredType    MsgType = 25
	CreateUserType        MsgType = 26
	UpdateUserType        MsgType = 27
	AuditedType           MsgType = 28
	AuditEventType        MsgType = 29
	SetAlertPrefsType     MsgType = 30
	MarkAlertsReadType    MsgType = 31
	SetDepartmentType     MsgType = 32
	SetReservationType    MsgType = 33
	SetLicenseCostType    MsgType = 34
	RequestPurchaseType   MsgType = 35
	DecidePurchaseType    MsgType = 36
	PurchaseProgressType  MsgType = 37
	SetUpdateSettingsType MsgType = 38
	UpdateCheckedType     MsgType = 39
	ArtifactStoredType    MsgType = 40
	RolloutChangeType     MsgType = 41
)

// IgnoreUnknownTypeFlag, set on a message type, tells a node that does not
// know the type to skip the entry instead of failing it. A leader sets it
// only on commands whose loss on an older node cannot make that node's state
// diverge in a way that matters (hints, caches, statistics).
const IgnoreUnknownTypeFlag MsgType = 0x80

// Base returns the type without IgnoreUnknownTypeFlag.
func (t MsgType) Base() MsgType { return t &^ IgnoreUnknownTypeFlag }

// String returns the command name, with "|ignore-unknown" when the flag is
// set.
func (t MsgType) String() string {
	s := "MsgType(" + strconv.Itoa(int(t.Base())) + ")"
	if m, ok := t.message(); ok {
		s = m.name
	}
	if t&IgnoreUnknownTypeFlag != 0 {
		s += "|ignore-unknown"
	}
	return s
}

// message is what the FSM knows of one message type: its name, how to
// decode its command and how to apply it.
type message struct {
	name string
	// new returns a fresh command to decode into: a pointer to the
	// command's struct.
	new func() command
	// apply applies a command that new made and Decode filled and
	// validated.
	apply applyFunc
}

// messages is the message table, indexed by type: the one place that ties
// a message type to its command and its apply function (consul's FSM keeps
// the same kind of table). Types without a row are unknown to this
// version. It is written only by its initializer.
var messages = [...]message{
	BootstrapType:         msg("Bootstrap", applyBootstrap),
	CreatePoolType:        msg("CreatePool", applyCreatePool),
	UpdatePoolType:        msg("UpdatePool", applyUpdatePool),
	LeaseBatchType:        msg("LeaseBatch", applyLeaseBatch),
	CreateTokenType:       msg("CreateToken", applyCreateToken),
	RevokeTokenType:       msg("RevokeToken", applyRevokeToken),
	EnrollType:            msg("Enroll", applyEnroll),
	RenewCertType:         msg("RenewCert", applyRenewCert),
	CollectorSeenType:     msg("CollectorSeen", applyCollectorSeen),
	AddLicenseType:        msg("AddLicense", applyAddLicense),
	RemoveLicenseType:     msg("RemoveLicense", applyRemoveLicense),
	ConsumeCreditsType:    msg("ConsumeCredits", applyConsumeCredits),
	UsageBatchType:        msg("UsageBatch", applyUsageBatch),
	SetSiteZoneType:       msg("SetSiteZone", applySetSiteZone),
	SetUpstreamType:       msg("SetUpstream", applySetUpstream),
	SealUpstreamType:      msg("SealUpstream", applySealUpstream),
	AckUpstreamType:       msg("AckUpstream", applyAckUpstream),
	UpstreamCheckedType:   msg("UpstreamChecked", applyUpstreamChecked),
	BorrowLeaseType:       msg("BorrowLease", applyBorrowLease),
	SetAlertRuleType:      msg("SetAlertRule", applySetAlertRule),
	FireAlertsType:        msg("FireAlerts", applyFireAlerts),
	AckAlertType:          msg("AckAlert", applyAckAlert),
	SetAlertChannelType:   msg("SetAlertChannel", applySetAlertChannel),
	TestAlertChannelType:  msg("TestAlertChannel", applyTestAlertChannel),
	AlertDeliveredType:    msg("AlertDelivered", applyAlertDelivered),
	CreateUserType:        msg("CreateUser", applyCreateUser),
	UpdateUserType:        msg("UpdateUser", applyUpdateUser),
	AuditedType:           {}, // set at init
	AuditEventType:        {}, // set at init
	SetAlertPrefsType:     msg("SetAlertPrefs", applySetAlertPrefs),
	MarkAlertsReadType:    msg("MarkAlertsRead", applyMarkAlertsRead),
	SetDepartmentType:     msg("SetDepartment", applySetDepartment),
	SetReservationType:    msg("SetReservation", applySetReservation),
	SetLicenseCostType:    msg("SetLicenseCost", applySetLicenseCost),
	RequestPurchaseType:   msg("RequestPurchase", applyRequestPurchase),
	DecidePurchaseType:    msg("DecidePurchase", applyDecidePurchase),
	PurchaseProgressType:  msg("PurchaseProgress", applyPurchaseProgress),
	SetUpdateSettingsType: msg("SetUpdateSettings", applySetUpdateSettings),
	UpdateCheckedType:     msg("UpdateChecked", applyUpdateChecked),
	ArtifactStoredType:    msg("ArtifactStored", applyArtifactStored),
	RolloutChangeType:     msg("RolloutChange", applyRolloutChange),
}

// MaxMsgType is the highest message type this build applies; masters
// advertise it so that a leader proposes nothing a voter cannot apply.
var MaxMsgType = MsgType(len(messages) - 1)

// The audit rows are added at init: Audited applies the command it wraps
// through this table, which a row in its initializer could not refer to.
func init() {
	messages[AuditedType] = msg("Audited", applyAudited)
	messages[AuditEventType] = msg("AuditEvent", applyAuditEvent)
}

// msg makes the row of a command whose struct is C from its apply
// function, which takes *C: the command is decoded into a new C and handed
// to apply as it came out of Decode.
func msg[C any, P interface {
	*C
	command
}](name string, apply func(*state, *applyCtx, P) Response) message {
	return message{
		name:  name,
		new:   func() command { return P(new(C)) },
		apply: func(s *state, ac *applyCtx, c command) Response { return apply(s, ac, c.(P)) },
	}
}

// message returns the row of t's base type, if this version knows it.
func (t MsgType) message() (message, bool) {
	b := t.Base()
	if int(b) >= len(messages) || messages[b].new == nil {
		return message{}, false
	}
	return messages[b], true
}
