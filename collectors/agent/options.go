package agent

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"time"

	"github.com/licmesh/licmesh/licensing/clock"
	"github.com/licmesh/licmesh/mesh/transport"
)

// Transport carries the agent's calls to the masters. *transport.Client is
// the real one.
type Transport interface {
	HTTPClient() *http.Client
	// Protocol returns "h3" or "h2" for host:port.
	Protocol(host string) string
	Close() error
}

// Options holds the agent's dependencies; zero fields take defaults.
type Options struct {
	// Clock is the agent's time; defaults to the system clock. Tests inject
	// a fake whose timers fire when it is advanced.
	Clock clock.Clock
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Version is this build's version, sent to the masters and shown in
	// status.
	Version string
	// Hostname is sent at enrollment; defaults to os.Hostname().
	Hostname string
	// NewTransport builds the transport for a TLS config; defaults to
	// transport.NewClient with the configured mode.
	NewTransport func(tlsConf *tls.Config, mode transport.Mode) Transport
	// Rand returns a uniform value in [0, n) for backoff jitter; defaults to
	// math/rand/v2.
	Rand func(n int64) int64
	// HelloInterval is how often the agent says hello to a master when
	// nothing else is due, to learn the masters list; defaults to 30s.
	HelloInterval time.Duration
	// BootClock returns the host's boot ID and its time since boot, which
	// the wall clock does not move; ok false when there is none. Borrowed
	// leases are kept on it across restarts. Defaults to the kernel's.
	BootClock func() (bootID string, sinceBoot time.Duration, ok bool)
	// Executable is the binary an update replaces; defaults to the running
	// one (selfupdate.Executable). Tests point it at a stand-in.
	Executable string
	// Healthy, when set, is a check a freshly updated collector must pass
	// before it reports the update a success; collectord asks its local
	// API. It is called with a context bounded by request_timeout, again
	// every second until it passes or the trial's deadline.
	Healthy func(ctx context.Context) error
}

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = clock.System{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.NewTransport == nil {
		log := o.Logger
		o.NewTransport = func(tlsConf *tls.Config, mode transport.Mode) Transport {
			return transport.NewClient(transport.ClientConfig{TLS: tlsConf, Mode: mode, Logger: log})
		}
	}
	if o.BootClock == nil {
		o.BootClock = systemBootClock
	}
	if o.HelloInterval <= 0 {
		o.HelloInterval = 30 * time.Second
	}
	return o
}
