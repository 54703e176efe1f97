package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/licmesh/licmesh/collectors/config"
	"github.com/licmesh/licmesh/collectors/failover"
	"github.com/licmesh/licmesh/collectors/identity"
	"github.com/licmesh/licmesh/collectors/leasebook"
	"github.com/licmesh/licmesh/licensing/clock"
	"github.com/licmesh/licmesh/mesh/batch"
	"github.com/licmesh/licmesh/mesh/pki"
	"github.com/licmesh/licmesh/mesh/transport"
)

// Agent is one collector. Create it with New and run it with Run.
type Agent struct {
	// leaderHint is the leader's address a master named in its last
	// answer (a string), taken by the next successful call.
	leaderHint atomic.Value

	cfg     config.Config
	opts    Options
	clock   clock.Clock
	log     *slog.Logger
	mode    transport.Mode
	store   *identity.Store
	book    *leasebook.Book
	masters *failover.List
	token   *pki.JoinToken // nil when enrolled and no token was configured
	started time.Time
	// renewBatchSize is maxRenewBatch; tests lower it.
	renewBatchSize int
	// tokens picks the lease tokens from masters whose signature is
	// checked.
	tokens *tokenSampler

	kickc     chan struct{}
	ready     chan struct{}
	readyOnce sync.Once

	ents ents
	upd  *updater
	// seats carries the product's acquires and releases to the masters,
	// together when they come together (seats.go).
	seats *batch.Coalescer[seatOp, seatResult]
	// seatsStop ends the seats' goroutine, started with the first seat
	// call and ended with the transport; nil when it is not running.
	seatsMu     sync.Mutex
	seatsStop   func()
	seatsClosed bool // closeTransport ran: no more seat calls
	// renewals is the renewal stream to the master renewals go to.
	renewals renewStream

	mu sync.Mutex
	id *identity.Identity // nil until enrolled
	tr Transport          // mutual-TLS transport; nil until enrolled
	st connState
}

// connState is what the agent knows about its link to the masters, for
// status.
type connState struct {
	phase       string // enrolling, connecting, connected, disconnected, stopped
	lastMaster  string
	lastContact time.Time
	lastError   string
	nodeID      string
	leaseTTL    time.Duration
	keyMismatch bool
	// seenByRenew is when a renewal a master counted as this collector's
	// presence (RenewResponse.presence) last got through.
	seenByRenew time.Time
}

// Phases shown in Status.
const (
	PhaseEnrolling    = "enrolling"
	PhaseConnecting   = "connecting"
	PhaseConnected    = "connected"
	PhaseDisconnected = "disconnected"
	PhaseStopped      = "stopped"
)

// New checks cfg, loads the identity from cfg.DataDir if there is one (then
// the join token is optional) and returns an agent ready to Run. It fails
// with a clear error on a bad config, a damaged identity, a missing token when
// not enrolled, or an expired certificate with no token to enroll again.
func New(cfg config.Config, opts Options) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Masters = cfg.NormalizedMasters()
	opts = opts.withDefaults()
	mode, err := transport.ParseMode(cfg.Transport)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	store, err := identity.Open(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	a := &Agent{
		cfg:     cfg,
		opts:    opts,
		clock:   opts.Clock,
		log:     opts.Logger,
		mode:    mode,
		store:   store,
		book:    leasebook.New(opts.Clock, cfg.MaxLeases),
		kickc:   make(chan struct{}, 1),
		ready:   make(chan struct{}),
		started: opts.Clock.Now(),
		upd:     newUpdater(opts.Executable),

		renewBatchSize: maxRenewBatch,
		tokens:         newTokenSampler(tokenCheckEvery),
	}
	a.seats = batch.New(maxSeatBatch, seatCallsInFlight, a.flushSeats)
	a.seats.OnOrphans(a.orphanedSeats)
	id, err := store.Load()
	switch {
	case errors.Is(err, identity.ErrNotEnrolled):
		tok, terr := cfg.JoinToken()
		if terr != nil {
			return nil, fmt.Errorf("agent: no identity in data_dir %s, so a join token is needed: %w", cfg.DataDir, terr)
		}
		a.token = &tok
		a.st.phase = PhaseEnrolling
	case err != nil:
		return nil, err
	default:
		if tok, terr := cfg.JoinToken(); terr == nil {
			a.token = &tok
		}
		if a.certExpired(id) && a.token == nil {
			// The collector starts anyway: what it holds offline (borrowed
			// seats, entitlements) verifies with the cluster's key, not
			// with its certificate, and its products keep them (P4). It
			// says, in its status and log, that it needs a join token to
			// reach the masters again.
			a.log.Error("collectord: the client certificate has expired; restart with a join token to reach the masters again",
				"ended", id.Cert.Leaf.NotAfter.Format(time.RFC3339))
			a.st.lastError = fmt.Sprintf("%v (it ended %s)", ErrCertificateExpired, id.Cert.Leaf.NotAfter.Format(time.RFC3339))
		}
		a.st.phase = PhaseConnecting
	}
	remembered, err := store.LoadMasters()
	if err != nil {
		a.log.Warn("collectord: ignoring the remembered masters list", "error", err)
		remembered = nil
	}
	a.masters, err = failover.New(cfg.Masters, remembered)
	if err != nil {
		return nil, err
	}
	if id != nil {
		// With an expired certificate too: stepCertificate enrolls again
		// when there is a token, and meanwhile what is held verifies.
		a.setIdentity(id)
		a.loadEntitlements()
		a.loadBorrows()
	}
	return a, nil
}

// Ready is closed once the agent is enrolled and a master has answered it.
func (a *Agent) Ready() <-chan struct{} { return a.ready }

// Config returns the configuration the agent runs with.
func (a *Agent) Config() config.Config { return a.cfg }

// identity returns the identity, nil before enrollment.
func (a *Agent) identity() *identity.Identity {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.id
}

// transport returns the mutual-TLS transport, nil before enrollment.
func (a *Agent) transport() Transport {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.tr
}

// setIdentity installs an identity and builds its transport, closing the
// previous one (after a new enrollment).
func (a *Agent) setIdentity(id *identity.Identity) {
	tr := a.opts.NewTransport(a.clientTLS(id.CAPool()), a.mode)
	a.mu.Lock()
	old := a.tr
	a.id, a.tr = id, tr
	a.mu.Unlock()
	if old != nil {
		old.Close()
	}
}

// certExpired reports whether the client certificate is past its end.
func (a *Agent) certExpired(id *identity.Identity) bool {
	return !a.clock.Now().Before(id.Cert.Leaf.NotAfter)
}

// kick wakes Run's loop to recompute what is due (a new lease may need an
// earlier renewal than the loop is waiting for).
func (a *Agent) kick() {
	select {
	case a.kickc <- struct{}{}:
	default:
	}
}

// Run enrolls if needed, then keeps leases renewed, the certificate fresh
// and the masters list current, and carries out the masters' update orders,
// until ctx ends. It returns nil on a clean stop, after releasing held leases
// if release_on_shutdown is set, and ErrRestart, releasing nothing, when an
// update swapped the binary and the process must restart into it. It returns
// another error only when it cannot go on: the data directory is in use, or
// enrollment failed for good (token refused, pin mismatch at every master).
func (a *Agent) Run(ctx context.Context) error {
	unlock, err := a.store.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	defer a.closeTransport()

	if a.identity() == nil {
		if err := a.enrollLoop(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	a.log.Info("collectord: running", "collector_id", a.identity().CollectorID,
		"masters", a.masters.Snapshot(), "transport", a.mode.String(), "version", a.opts.Version)
	// rctx also ends when an update needs a restart.
	rctx, stopForRestart := context.WithCancel(ctx)
	defer stopForRestart()
	a.upd.mu.Lock()
	a.upd.stop = stopForRestart
	a.upd.mu.Unlock()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { a.watchEntitlements(rctx) })
	wg.Go(func() { a.runUpdates(rctx) })

	var s schedule
	for {
		wait := a.step(rctx, &s)
		if rctx.Err() != nil {
			break
		}
		select {
		case <-rctx.Done():
		case <-a.kickc:
		case <-a.clock.After(wait):
		}
		if rctx.Err() != nil {
			break
		}
	}
	if a.restarting() && ctx.Err() == nil {
		// A restart is not a release: the next run renews what the
		// products hold. (Stopped meanwhile, it is a stop like any other.)
		a.setPhase(PhaseStopped)
		return ErrRestart
	}
	if a.cfg.ReleaseOnShutdown {
		a.releaseAll(context.WithoutCancel(ctx))
	}
	a.setPhase(PhaseStopped)
	return nil
}

func (a *Agent) closeTransport() {
	a.stopSeats()
	a.renewals.close()
	a.mu.Lock()
	tr := a.tr
	a.tr = nil
	a.mu.Unlock()
	if tr != nil {
		tr.Close()
	}
}

// phase returns the agent's phase.
func (a *Agent) phase() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.st.phase
}

func (a *Agent) setPhase(p string) {
	a.mu.Lock()
	a.st.phase = p
	a.mu.Unlock()
}
