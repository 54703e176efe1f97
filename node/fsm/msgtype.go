package fsm

import "strconv"

// MsgType is the first byte of every command in the Raft log. The enum is
// append-only: a value, once released, keeps its meaning forever, and new
// commands take the next free number.
type MsgType uint8

// Message types. Values are stable on disk; never renumber or reuse one.
const (
	BootstrapType      MsgType = 1
	CreatePoolType     MsgType = 2
	UpdatePoolType     MsgType = 3
	LeaseBatchType     MsgType = 4
	CreateTokenType    MsgType = 5
	RevokeTokenType    MsgType = 6
	EnrollType         MsgType = 7
	RenewCertType      MsgType = 8
	CollectorSeenType  MsgType = 9
	AddLicenseType     MsgType = 10
	RemoveLicenseType  MsgType = 11
	ConsumeCreditsType MsgType = 12
	UsageBatchType     MsgType = 13
	SetSiteZoneType    MsgType = 14
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
	var s string
	switch t.Base() {
	case BootstrapType:
		s = "Bootstrap"
	case CreatePoolType:
		s = "CreatePool"
	case UpdatePoolType:
		s = "UpdatePool"
	case LeaseBatchType:
		s = "LeaseBatch"
	case CreateTokenType:
		s = "CreateToken"
	case RevokeTokenType:
		s = "RevokeToken"
	case EnrollType:
		s = "Enroll"
	case RenewCertType:
		s = "RenewCert"
	case CollectorSeenType:
		s = "CollectorSeen"
	case AddLicenseType:
		s = "AddLicense"
	case RemoveLicenseType:
		s = "RemoveLicense"
	case ConsumeCreditsType:
		s = "ConsumeCredits"
	case UsageBatchType:
		s = "UsageBatch"
	case SetSiteZoneType:
		s = "SetSiteZone"
	default:
		s = "MsgType(" + strconv.Itoa(int(t.Base())) + ")"
	}
	if t&IgnoreUnknownTypeFlag != 0 {
		s += "|ignore-unknown"
	}
	return s
}

// newCommand returns a fresh command for a known base type, for decoding.
func newCommand(t MsgType) (command, bool) {
	switch t.Base() {
	case BootstrapType:
		return new(Bootstrap), true
	case CreatePoolType:
		return new(CreatePool), true
	case UpdatePoolType:
		return new(UpdatePool), true
	case LeaseBatchType:
		return new(LeaseBatch), true
	case CreateTokenType:
		return new(CreateToken), true
	case RevokeTokenType:
		return new(RevokeToken), true
	case EnrollType:
		return new(Enroll), true
	case RenewCertType:
		return new(RenewCert), true
	case CollectorSeenType:
		return new(CollectorSeen), true
	case AddLicenseType:
		return new(AddLicense), true
	case RemoveLicenseType:
		return new(RemoveLicense), true
	case ConsumeCreditsType:
		return new(ConsumeCredits), true
	case UsageBatchType:
		return new(UsageBatch), true
	case SetSiteZoneType:
		return new(SetSiteZone), true
	}
	return nil, false
}
