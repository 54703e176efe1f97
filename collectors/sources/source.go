package sources

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/licmesh/licmesh/licensing/clock"
	"github.com/licmesh/licmesh/licensing/usage"
)

// Source measures an installation. Collect is bounded by the source's
// timeout and never runs twice at once for one source (a second call waits
// for the first). Close releases the source's connection; Collect after
// Close fails with ErrClosed.
type Source interface {
	// Name is the source's configured name.
	Name() string
	// Collect takes one sample.
	Collect(ctx context.Context) (Sample, error)
	// Close releases what the source holds.
	Close() error
}

// Options are what a source needs besides its Config.
type Options struct {
	// Clock stamps samples; nil means the system clock.
	Clock clock.Clock
	// Logger receives debug lines; nil discards them. Errors are returned,
	// not logged.
	Logger *slog.Logger
	// HashKey keys the pseudonyms of user IDs (see Pseudonym). It is
	// required, at least MinHashKeyLength bytes, when a source yields users
	// or logons, and must stay the same across restarts and across every
	// collector of one installation, or users are counted twice.
	HashKey []byte
	// LookupEnv resolves dsn_env; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// measurer is one kind of source: it fills req within ctx's deadline.
type measurer interface {
	measure(ctx context.Context, req *request) error
	close() error
}

// request is one collection in progress.
type request struct {
	at      time.Time
	since   time.Time
	maxRows int
	rows    *rowMaker
	scalars map[string]int64
	users   []usage.UserState
	logons  []usage.Logon
}

// addUser turns row n of a users result into a user, or counts it rejected.
// Every kind of source reads its rows through it and addLogon.
func (req *request) addUser(r record, n int) {
	u, err := req.rows.user(r)
	if err != nil {
		req.rows.reject("users", n, err)
		return
	}
	req.users = append(req.users, u)
}

// addLogon turns row n of a logons result into a logon, or counts it
// rejected.
func (req *request) addLogon(r record, n int) {
	l, err := req.rows.logon(r)
	if err != nil {
		req.rows.reject("logons", n, err)
		return
	}
	req.logons = append(req.logons, l)
}

// reporter builds a source's errors, scrubbed of its secrets.
type reporter struct {
	name  string
	scrub scrubber
}

// fail wraps err (text scrubbed and clipped) under kind. A context error
// inside err is kept as a cause so callers can tell cancellation apart.
func (r *reporter) fail(field string, kind error, err error) *Error {
	e := &Error{Source: r.name, Field: field, Kind: kind, Detail: r.detail(err.Error())}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		e.cause = context.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		e.cause = context.Canceled
	}
	return e
}

// failf is fail with a formatted detail.
func (r *reporter) failf(field string, kind error, format string, args ...any) *Error {
	return &Error{Source: r.name, Field: field, Kind: kind, Detail: r.detail(fmt.Sprintf(format, args...))}
}

func (r *reporter) detail(s string) string {
	const maxDetail = 512
	s = r.scrub.text(s)
	if len(s) > maxDetail {
		s = s[:maxDetail] + "..."
	}
	return s
}

// source is what New returns: the common part of every kind, which stamps,
// bounds and serializes collections and keeps the logons watermark.
type source struct {
	cfg     Config
	clock   clock.Clock
	loc     *time.Location
	roles   map[string]usage.Role
	defRole usage.Role
	key     []byte
	rep     *reporter
	m       measurer

	mu     sync.Mutex
	closed bool
	lastOK time.Time
}

// New validates cfg and returns a ready source. Everything that can be
// checked without reaching the database or endpoint is checked here (the
// config, the DSN's syntax, the files and variables it names, the command),
// with errors naming the source and field. It does not connect: the product
// may start after its collector.
func New(cfg Config, opts Options) (Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	rep := &reporter{name: cfg.Name}
	s := &source{cfg: cfg, clock: opts.Clock, rep: rep, roles: make(map[string]usage.Role, len(cfg.Roles))}
	if s.clock == nil {
		s.clock = clock.System{}
	}
	s.loc, _ = time.LoadLocation(cfg.TimeZone) // Validate loaded it
	for k, v := range cfg.Roles {
		s.roles[k], _ = usage.ParseRole(v)
	}
	if cfg.DefaultRole != "" {
		s.defRole, _ = usage.ParseRole(cfg.DefaultRole)
	}
	if cfg.yieldsUsers() {
		if len(opts.HashKey) < MinHashKeyLength {
			return nil, rep.failf("hash_key", ErrConfig, "the source yields users or logons, so a hash key of at least %d bytes is needed to pseudonymise their IDs (have %d)", MinHashKeyLength, len(opts.HashKey))
		}
		s.key = append([]byte(nil), opts.HashKey...)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var err error
	switch cfg.Kind {
	case KindSQL:
		s.m, err = newSQL(cfg, lookupEnvOrOS(opts.LookupEnv), rep)
	case KindHTTP:
		s.m, err = newHTTP(cfg, rep)
	case KindExec:
		s.m, err = newExec(cfg, rep)
	}
	if err != nil {
		return nil, err
	}
	logger.Debug("source ready", "source", cfg.Name, "kind", string(cfg.Kind))
	return s, nil
}

func (c Config) yieldsUsers() bool {
	switch {
	case c.SQL != nil:
		return c.SQL.Users != "" || c.SQL.Logons != ""
	case c.HTTP != nil:
		return c.HTTP.Users != "" || c.HTTP.Logons != ""
	case c.Exec != nil:
		return c.Exec.Users != "" || c.Exec.Logons != ""
	}
	return false
}

// Name returns the source's name.
func (s *source) Name() string { return s.cfg.Name }

// Collect takes one sample within the source's timeout.
func (s *source) Collect(ctx context.Context) (Sample, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Sample{}, s.rep.failf("", ErrClosed, "source is closed")
	}
	at := s.clock.Now().Round(0)
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req := &request{
		at:      at,
		since:   s.since(at),
		maxRows: s.cfg.MaxRows,
		rows:    &rowMaker{at: at, loc: s.loc, roles: s.roles, defaultRole: s.defRole, key: s.key},
		scalars: make(map[string]int64),
	}
	if err := s.m.measure(ctx, req); err != nil {
		return Sample{}, err
	}
	s.lastOK = at
	return Sample{
		Source:         s.cfg.Name,
		At:             at,
		Scalars:        req.scalars,
		Users:          req.users,
		Logons:         req.logons,
		Rejected:       req.rows.rejected,
		RejectedReason: req.rows.firstReason,
	}, nil
}

// since is where the logons query starts: logons_lookback before now, or
// further back to the last success after a gap, but never more than
// MaxLogonsLookback.
func (s *source) since(at time.Time) time.Time {
	since := at.Add(-s.cfg.LogonsLookback)
	if !s.lastOK.IsZero() && s.lastOK.Before(since) {
		since = s.lastOK
	}
	return maxTime(since, at.Add(-MaxLogonsLookback))
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Close releases the source's connection. It waits for a collection in
// progress, which its timeout bounds.
func (s *source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.m.close()
}

// timeoutErr is the error for a collection that ran out of time.
func (r *reporter) timeoutErr(field string, timeout time.Duration, what string) *Error {
	e := r.failf(field, ErrTimeout, "%s did not finish within the source's timeout (%v)", what, timeout)
	e.cause = context.DeadlineExceeded
	return e
}
