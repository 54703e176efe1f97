package bench

import (
	"fmt"
	"time"
)

// Config holds the knobs of every measurement. One flat struct keeps the
// command-line flags one-to-one with fields; each measurement reads only the
// fields it needs.
type Config struct {
	// Dir is where temporary files (fsync probe, bolt files, snapshots) go.
	// Empty means the OS temp dir, which is where `go test` puts t.TempDir,
	// so fsync is measured on the same disk the tests use.
	Dir string

	// Duration is the measured window of each throughput run.
	Duration time.Duration
	// Warmup runs before each measured window and is not counted.
	Warmup time.Duration

	// FsyncSamples is how many write+fdatasync pairs B0 times.
	FsyncSamples int
	// FsyncBytes is the size of each B0 write.
	FsyncBytes int
	// TCPSamples is how many 1-byte TCP ping-pongs B0 times.
	TCPSamples int
	// UDPSamples is how many 1-byte UDP ping-pongs B0 times.
	UDPSamples int
	// RTTTimeout bounds a single B0 round trip, so a lost UDP datagram fails
	// the probe instead of hanging it.
	RTTTimeout time.Duration

	// Concurrency lists the numbers of concurrent appliers B1 runs at.
	Concurrency []int
	// PayloadBytes is the size of each B1 log entry's data.
	PayloadBytes int
	// ApplyTimeout bounds how long one raft.Apply may wait to be enqueued.
	ApplyTimeout time.Duration
	// Raft configures the raw cluster B1 measures. Its Dir defaults to Dir.
	Raft RawRaftConfig
}

// DefaultConfig returns the configuration `make bench` runs with.
func DefaultConfig() Config {
	return Config{
		Duration:     3 * time.Second,
		Warmup:       500 * time.Millisecond,
		FsyncSamples: 200,
		FsyncBytes:   4096,
		TCPSamples:   2000,
		UDPSamples:   2000,
		RTTTimeout:   time.Second,
		Concurrency:  []int{1, 16, 64, 256},
		PayloadBytes: 16,
		ApplyTimeout: 10 * time.Second,
		Raft:         DefaultRawRaftConfig(),
	}
}

// Validate reports the first field that is out of range.
func (c Config) Validate() error {
	switch {
	case c.Duration <= 0:
		return fmt.Errorf("%w: duration %v must be positive", ErrInvalidConfig, c.Duration)
	case c.Warmup < 0:
		return fmt.Errorf("%w: warmup %v must not be negative", ErrInvalidConfig, c.Warmup)
	case c.FsyncSamples < 1:
		return fmt.Errorf("%w: fsync samples %d must be at least 1", ErrInvalidConfig, c.FsyncSamples)
	case c.FsyncBytes < 1:
		return fmt.Errorf("%w: fsync bytes %d must be at least 1", ErrInvalidConfig, c.FsyncBytes)
	case c.TCPSamples < 1:
		return fmt.Errorf("%w: tcp samples %d must be at least 1", ErrInvalidConfig, c.TCPSamples)
	case c.UDPSamples < 1:
		return fmt.Errorf("%w: udp samples %d must be at least 1", ErrInvalidConfig, c.UDPSamples)
	case c.RTTTimeout <= 0:
		return fmt.Errorf("%w: rtt timeout %v must be positive", ErrInvalidConfig, c.RTTTimeout)
	case len(c.Concurrency) == 0:
		return fmt.Errorf("%w: concurrency list is empty", ErrInvalidConfig)
	case c.PayloadBytes < 1:
		return fmt.Errorf("%w: payload bytes %d must be at least 1", ErrInvalidConfig, c.PayloadBytes)
	case c.ApplyTimeout < 0:
		return fmt.Errorf("%w: apply timeout %v must not be negative", ErrInvalidConfig, c.ApplyTimeout)
	}
	seen := make(map[int]bool, len(c.Concurrency))
	for _, n := range c.Concurrency {
		if n < 1 {
			return fmt.Errorf("%w: concurrency %d must be at least 1", ErrInvalidConfig, n)
		}
		if seen[n] {
			return fmt.Errorf("%w: concurrency %d listed twice", ErrInvalidConfig, n)
		}
		seen[n] = true
	}
	if err := c.Raft.Validate(); err != nil {
		return err
	}
	return nil
}

// raftConfig is the cluster config B1 uses: Raft.Dir falls back to Dir.
func (c Config) raftConfig() RawRaftConfig {
	rc := c.Raft
	if rc.Dir == "" {
		rc.Dir = c.Dir
	}
	return rc
}
