package meter

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/licmesh/licmesh/collectors/config"
	"github.com/licmesh/licmesh/collectors/spool"
	"github.com/licmesh/licmesh/licensing/clock"
	"github.com/licmesh/licmesh/licensing/usage"
)

// Defaults and limits of Config.
const (
	// The collector's config file bounds what it may ask of the meter, so
	// these limits are the config's.
	DefaultBatchMaxRecords = config.DefaultBatchMaxRecords
	DefaultBatchMaxBytes   = 512 << 10
	DefaultSendTimeout     = time.Minute
	DefaultAppendTimeout   = 10 * time.Second
	DefaultRetryBase       = time.Second
	DefaultRetryMax        = 2 * time.Minute

	// MaxBatchRecords and MaxBatchBytes bound a report so that, with its
	// per-record framing, it stays under the collector protocol's 1 MiB
	// message limit. A spool record must fit in MaxBatchBytes too.
	MaxBatchRecords = config.MaxBatchRecords
	MaxBatchBytes   = 768 << 10
	// MaxSendInterval bounds Config.SendInterval.
	MaxSendInterval = config.MaxSendInterval
)

// Config configures a Meter.
type Config struct {
	// Installation names the installation the sources measure; it is sent
	// with every report.
	Installation string
	// SpoolDir is the spool's directory, and Spool its configuration; the
	// meter sets Spool.Clock, Spool.Logger and Spool.OnFull itself.
	SpoolDir string
	Spool    spool.Config
	// BatchMaxRecords and BatchMaxBytes (of spooled payloads) bound one
	// report.
	BatchMaxRecords int
	BatchMaxBytes   int
	// SendInterval is the least time between two reports; 0 sends as soon
	// as a sample is spooled. A large fleet can raise it to batch more
	// samples per report.
	SendInterval time.Duration
	// SendTimeout bounds one report, every master tried included.
	SendTimeout time.Duration
	// AppendTimeout bounds how long a sample waits for the spool's sync.
	AppendTimeout time.Duration
	// RetryBase and RetryMax bound the backoff after failed reports.
	RetryBase, RetryMax time.Duration
}

// DefaultConfig returns the defaults; Installation and SpoolDir have none.
func DefaultConfig() Config {
	return Config{
		Spool:           spool.DefaultConfig(),
		BatchMaxRecords: DefaultBatchMaxRecords,
		BatchMaxBytes:   DefaultBatchMaxBytes,
		SendTimeout:     DefaultSendTimeout,
		AppendTimeout:   DefaultAppendTimeout,
		RetryBase:       DefaultRetryBase,
		RetryMax:        DefaultRetryMax,
	}
}

// Validate reports the first field out of range, wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	if err := usage.InstallationID(c.Installation).Validate(); err != nil {
		return bad("installation: %v", err)
	}
	if c.SpoolDir == "" {
		return bad("spool_dir is empty")
	}
	if err := c.Spool.Validate(); err != nil {
		return fmt.Errorf("%w: spool: %w", ErrInvalidConfig, err)
	}
	if c.Spool.MaxRecordBytes > MaxBatchBytes {
		return bad("spool max_record_bytes %d is over the largest report, %d", c.Spool.MaxRecordBytes, MaxBatchBytes)
	}
	if c.BatchMaxRecords < 1 || c.BatchMaxRecords > MaxBatchRecords {
		return bad("batch_max_records %d is outside 1..%d", c.BatchMaxRecords, MaxBatchRecords)
	}
	if c.BatchMaxBytes < 1 || c.BatchMaxBytes > MaxBatchBytes {
		return bad("batch_max_bytes %d is outside 1..%d", c.BatchMaxBytes, MaxBatchBytes)
	}
	if c.SendInterval < 0 || c.SendInterval > MaxSendInterval {
		return bad("send_interval %v is outside 0..%v", c.SendInterval, MaxSendInterval)
	}
	if c.SendTimeout <= 0 || c.AppendTimeout <= 0 {
		return bad("send_timeout (%v) and append_timeout (%v) must be positive", c.SendTimeout, c.AppendTimeout)
	}
	if c.RetryBase <= 0 || c.RetryMax < c.RetryBase {
		return bad("retry_base %v must be positive and retry_max %v at least as long", c.RetryBase, c.RetryMax)
	}
	return nil
}

// Options are the meter's dependencies; zero fields take defaults.
type Options struct {
	// Clock drives the sources' schedule, the retry backoff and the
	// spool's record times; nil means the real clock.
	Clock clock.Clock
	// Logger nil means slog.Default().
	Logger *slog.Logger
	// Rand returns a uniform value in [0, n) for the retry jitter; nil
	// means math/rand/v2.
	Rand func(n int64) int64
	// SourceRand is the sources runner's jitter (see
	// sources.RunnerOptions.Rand); nil means math/rand/v2.
	SourceRand func() float64
}

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = clock.System{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}
