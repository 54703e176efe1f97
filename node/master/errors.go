package master

import "errors"

// Errors of the master itself; the FSM's own sentinels live in node/fsm.
var (
	ErrNoLeader = errors.New("master: no leader is known yet")
	// ErrNotLeader means this master could not confirm with a quorum that
	// it still leads, so it answers no renewal.
	ErrNotLeader    = errors.New("master: leadership not confirmed by a quorum")
	ErrNotBootstrap = errors.New("master: the cluster has not bootstrapped its identity yet")
	ErrUnauthorized = errors.New("master: the API token or password was refused")
	// ErrForbidden means the caller is known but its role does not allow
	// the call.
	ErrForbidden    = errors.New("master: permission denied")
	ErrNotCollector = errors.New("master: the client certificate is not an enrolled collector's")
	// ErrNotCovered means a volume license grants the pool but does not
	// cover the asking collector's installation.
	ErrNotCovered   = errors.New("master: the installation is not covered")
	ErrNotMaster    = errors.New("master: the caller is not a master of this cluster")
	ErrProtocol     = errors.New("master: unsupported protocol version")
	ErrBadRequest   = errors.New("master: bad request")
	ErrShuttingDown = errors.New("master: shutting down")
	// ErrCatchingUp is returned to collectors by a master that has not yet
	// caught up with the cluster since it started: try another master.
	ErrCatchingUp     = errors.New("master: catching up with the cluster")
	ErrLeaseNotHeld   = errors.New("master: lease not held by this collector")
	ErrForwardFailure = errors.New("master: forwarding to the leader failed")
	// ErrNoUsage means a usage view named an installation no collector
	// reported usage for.
	ErrNoUsage = errors.New("master: no usage recorded for the installation")
)
