package fsm

import "errors"

// Errors returned by this package. Apply returns them in Response.Err (for a
// whole command) or OpResult.Err (for one lease operation); a command that
// fails changes no state. Errors about malformed input wrap one of these
// with a detail naming the problem; test them with errors.Is.
var (
	// ErrMalformed means command bytes could not be decoded or a field is
	// out of range.
	ErrMalformed = errors.New("fsm: malformed command")
	// ErrUnknownMsgType means a command's message type is not one this
	// version knows and does not carry IgnoreUnknownTypeFlag. The node is
	// older than the leader that wrote the entry.
	ErrUnknownMsgType = errors.New("fsm: unknown message type")
	// ErrWrongCommand means Encode was given a command that does not belong
	// to the message type.
	ErrWrongCommand = errors.New("fsm: command does not match message type")
	// ErrBadIndex means a lease batch arrived at a Raft index that cannot
	// form lease IDs (0, or at least 2^48).
	ErrBadIndex = errors.New("fsm: raft index out of range for lease ids")

	// ErrNotBootstrapped means a command other than Bootstrap arrived before
	// the cluster was bootstrapped.
	ErrNotBootstrapped = errors.New("fsm: cluster not bootstrapped")
	// ErrAlreadyBootstrapped means a second Bootstrap arrived.
	ErrAlreadyBootstrapped = errors.New("fsm: cluster already bootstrapped")

	// ErrPoolExists means CreatePool named a pool that exists.
	ErrPoolExists = errors.New("fsm: pool exists")
	// ErrUnknownPool means a command named a pool that does not exist.
	ErrUnknownPool = errors.New("fsm: unknown pool")
	// ErrPoolFull means a hard pool has no free seat.
	ErrPoolFull = errors.New("fsm: pool full")
	// ErrUnknownAlert means an acknowledgement named an alert the cluster
	// does not have.
	ErrUnknownAlert = errors.New("fsm: unknown alert")
	// ErrUnknownChannel means a command named an alert channel the cluster
	// does not have.
	ErrUnknownChannel = errors.New("fsm: unknown alert channel")
	// ErrNoBorrow means a borrow named a pool whose licenses lend no seats.
	ErrNoBorrow = errors.New("fsm: the pool lends no seats (its license allows no borrowing)")
	// ErrBorrowTooLong means a borrow asked for longer than the pool's
	// maximum borrow period.
	ErrBorrowTooLong = errors.New("fsm: borrow longer than the pool allows")
	// ErrBorrowed means an expiry named a borrowed lease before its end:
	// it stays.
	ErrBorrowed = errors.New("fsm: lease is borrowed until a later time")
	// ErrUnknownLease means a release named a lease that does not exist.
	ErrUnknownLease = errors.New("fsm: unknown lease")
	// ErrNotHolder means a release came from a collector other than the one
	// holding the lease.
	ErrNotHolder = errors.New("fsm: lease held by another collector")
	// ErrHeldElsewhere means an acquire named a (pool, holder) whose seat is
	// already leased through another collector.
	ErrHeldElsewhere = errors.New("fsm: holder's seat is leased through another collector")
	// ErrInvalidOp means one operation of a lease batch is malformed; the
	// other operations of the batch still apply.
	ErrInvalidOp = errors.New("fsm: invalid lease operation")

	// ErrTokenExists means CreateToken reused a token ID.
	ErrTokenExists = errors.New("fsm: token exists")
	// ErrUnknownToken means a command named a token that does not exist.
	ErrUnknownToken = errors.New("fsm: unknown token")
	// ErrTokenUnknown is ErrUnknownToken, named for its place in the
	// enrollment checks (unknown, revoked, expired, exhausted, secret, role).
	ErrTokenUnknown = ErrUnknownToken
	// ErrTokenRevoked means an enrollment used a revoked token.
	ErrTokenRevoked = errors.New("fsm: token revoked")
	// ErrTokenExpired means an enrollment used a token at or after its
	// expiry.
	ErrTokenExpired = errors.New("fsm: token expired")
	// ErrTokenExhausted means an enrollment used a token that has been used
	// MaxUses times.
	ErrTokenExhausted = errors.New("fsm: token exhausted")
	// ErrTokenSecret means an enrollment's secret does not match the token.
	ErrTokenSecret = errors.New("fsm: token secret mismatch")
	// ErrTokenRole means an enrollment used a token whose role is not
	// "collector".
	ErrTokenRole = errors.New("fsm: token is not a collector join token")

	// ErrCollectorExists means an enrollment named a collector ID already
	// enrolled.
	ErrCollectorExists = errors.New("fsm: collector exists")
	// ErrUnknownCollector means a command named a collector that is not
	// enrolled.
	ErrUnknownCollector = errors.New("fsm: unknown collector")

	// ErrPoolExpired means an acquire named a pool whose seats came only
	// from licenses past their grace: it grants nothing new until a
	// renewal is added.
	ErrPoolExpired = errors.New("fsm: pool's license expired")
	// ErrLicensedPool means UpdatePool named a pool whose seats come from a
	// license; only a new license changes them.
	ErrLicensedPool = errors.New("fsm: pool's seats come from a license")

	// ErrLicenseExists means AddLicense named a license ID already stored.
	ErrLicenseExists = errors.New("fsm: license exists")
	// ErrUnknownLicense means RemoveLicense named a license not stored.
	ErrUnknownLicense = errors.New("fsm: unknown license")
	// ErrLicenseOutdated means AddLicense gave a license that a stored one
	// replaces: an older (or equally old) license of the same subscription,
	// or one that a stored license supersedes.
	ErrLicenseOutdated = errors.New("fsm: license outdated by a stored license")
	// ErrLicenseConflict means AddLicense gave a license whose
	// subscription ID is held by a stored license of another customer.
	ErrLicenseConflict = errors.New("fsm: license conflicts with a stored license")
	// ErrLicenseCluster means AddLicense gave a license bound to another
	// cluster.
	ErrLicenseCluster = errors.New("fsm: license bound to another cluster")
	// ErrLicenseNotInForce means AddLicense gave a license past its grace
	// at trusted time, or one not yet valid that would replace a stored
	// license (and so leave its pools without seats until it starts). The
	// error also wraps license.ErrExpired or license.ErrNotYetValid.
	ErrLicenseNotInForce = errors.New("fsm: license not in force")

	// ErrUnknownCreditUnit means ConsumeCredits named a unit no license in
	// force sells.
	ErrUnknownCreditUnit = errors.New("fsm: no usage credits of that unit")
	// ErrCreditsExhausted means no license in force has enough usage
	// credits left for a ConsumeCredits; nothing was consumed. It also
	// wraps license.ErrCreditsExhausted.
	ErrCreditsExhausted = errors.New("fsm: usage credits exhausted")

	// ErrZoneLocked means SetSiteZone named another zone than the one usage
	// months and days are already cut in.
	ErrZoneLocked = errors.New("fsm: site time zone cannot change once usage is recorded")

	// ErrBadSnapshot means a snapshot stream is corrupt, truncated or of an
	// unknown format; Restore leaves the state as it was.
	ErrBadSnapshot = errors.New("fsm: bad snapshot")
)

// Errors of the upstream commands.
var (
	// ErrUpstreamChain means a sealed batch does not follow the cluster's
	// chain (another seal got there first), or an acknowledgement names a
	// batch the chain does not hold.
	ErrUpstreamChain = errors.New("fsm: usage batch does not follow the upstream chain")
	// ErrOutboxFull means the batches not yet acknowledged by the hub fill
	// the outbox: a receipt must be imported before more can be sealed.
	ErrOutboxFull = errors.New("fsm: upstream outbox full")
)
