package bench

import (
	"fmt"
	"io"
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

	// ProfileDir, when set, receives every master's CPU and allocation
	// profiles over G2's measured windows (g2-c<C>-<leader|followerN>-*.pprof)
	// and the leader's over G3's and G11's (g3-leader-*.pprof, g11-...).
	ProfileDir string

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
	// Its timeouts are also given to the meshd masters of G1-G4, so both
	// sides of every ratio run with the same Raft timings.
	Raft RawRaftConfig
	// Mesh configures the measurements on real meshd masters (G1, G3, G4).
	Mesh MeshConfig
	// FSM configures G6, which runs the FSM package's Go benchmarks.
	FSM FSMBenchConfig
	// IdleWindow is how long G10 watches an idle collector.
	IdleWindow time.Duration
	// Usage configures the usage measurements (U1, U2).
	Usage UsageConfig
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
		Mesh:         DefaultMeshConfig(),
		FSM:          DefaultFSMBenchConfig(),
		IdleWindow:   30 * time.Second,
		Usage:        DefaultUsageConfig(),
	}
}

// Validate reports the first field that is out of range.
func (c Config) Validate() error {
	switch {
	case c.Duration <= 0:
		return fmt.Errorf("%w: duration %v must be positive", ErrInvalidConfig, c.Duration)
	case c.Warmup < 0:
		return fmt.Errorf("%w: warmup %v must not be negative", ErrInvalidConfig, c.Warmup)
	case c.IdleWindow <= 0:
		return fmt.Errorf("%w: idle window %v must be positive", ErrInvalidConfig, c.IdleWindow)
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
	if err := c.Mesh.Validate(); err != nil {
		return err
	}
	if err := c.Usage.Validate(); err != nil {
		return err
	}
	return c.FSM.Validate()
}

// raftConfig is the cluster config B1 uses: Raft.Dir falls back to Dir.
func (c Config) raftConfig() RawRaftConfig {
	rc := c.Raft
	if rc.Dir == "" {
		rc.Dir = c.Dir
	}
	return rc
}

// MeshConfig configures the measurements that drive real meshd masters
// through the collector protocol: G1 (acquire and release), G3 (renewals)
// and G4 (failover).
type MeshConfig struct {
	// Masters is the size of the cluster: 3 or 5.
	Masters int
	// Collectors is the number of enrolled collector identities, each with
	// its own QUIC connection, spread round-robin over the masters so that
	// both the leader's and the followers' (forwarding) paths carry load.
	Collectors int
	// Concurrency lists G1's numbers of concurrent holders. G1 divides by
	// B1 at the same level; a level B1 does not run is measured for G1 alone.
	Concurrency []int
	// LeaseTTL is the masters' lease TTL.
	LeaseTTL time.Duration
	// RenewWorkers is G3's number of concurrent renewers.
	RenewWorkers int
	// LeasesPerWorker is how many leases each G3 worker holds and renews in
	// one call.
	LeasesPerWorker int
	// FailoverTrials is how many times G4 kills the leader.
	FailoverTrials int
	// TryTimeout bounds each G4 acquire attempt, so an attempt stuck on a
	// master that has not noticed the failure is given up quickly.
	TryTimeout time.Duration
	// FailoverTimeout bounds one G4 trial from the kill to a grant.
	FailoverTimeout time.Duration
	// StartTimeout bounds a cluster's start, and a restarted master's return.
	StartTimeout time.Duration
	// CallTimeout bounds every other call to a master.
	CallTimeout time.Duration
	// Log receives the harness's lines: the tail of each master's log when
	// a measurement fails. Nil discards them.
	Log io.Writer
}

// DefaultMeshConfig returns the settings `make bench` uses.
func DefaultMeshConfig() MeshConfig {
	return MeshConfig{
		Masters:         3,
		Collectors:      8,
		Concurrency:     []int{64, 256},
		LeaseTTL:        30 * time.Second, // the masters' production default
		RenewWorkers:    256,
		LeasesPerWorker: 16,
		FailoverTrials:  10,
		TryTimeout:      250 * time.Millisecond,
		FailoverTimeout: 30 * time.Second,
		StartTimeout:    60 * time.Second,
		CallTimeout:     10 * time.Second,
	}
}

// Validate reports the first field that is out of range.
func (c MeshConfig) Validate() error {
	switch {
	case c.Masters != 3 && c.Masters != 5:
		return fmt.Errorf("%w: mesh masters %d must be 3 or 5", ErrInvalidConfig, c.Masters)
	case c.Collectors < 1:
		return fmt.Errorf("%w: mesh collectors %d must be at least 1", ErrInvalidConfig, c.Collectors)
	case len(c.Concurrency) == 0:
		return fmt.Errorf("%w: mesh concurrency list is empty", ErrInvalidConfig)
	case c.LeaseTTL < time.Second:
		return fmt.Errorf("%w: mesh lease TTL %v must be at least 1s", ErrInvalidConfig, c.LeaseTTL)
	case c.RenewWorkers < 1:
		return fmt.Errorf("%w: mesh renew workers %d must be at least 1", ErrInvalidConfig, c.RenewWorkers)
	case c.LeasesPerWorker < 1 || c.LeasesPerWorker > 10000:
		return fmt.Errorf("%w: mesh leases per worker %d must be 1 to 10000", ErrInvalidConfig, c.LeasesPerWorker)
	case c.RenewWorkers*c.LeasesPerWorker > maxPoolSeats:
		return fmt.Errorf("%w: mesh renew workers × leases per worker %d exceeds a pool's %d seats",
			ErrInvalidConfig, c.RenewWorkers*c.LeasesPerWorker, maxPoolSeats)
	case c.FailoverTrials < 1:
		return fmt.Errorf("%w: mesh failover trials %d must be at least 1", ErrInvalidConfig, c.FailoverTrials)
	case c.TryTimeout <= 0:
		return fmt.Errorf("%w: mesh try timeout %v must be positive", ErrInvalidConfig, c.TryTimeout)
	case c.FailoverTimeout <= c.TryTimeout:
		return fmt.Errorf("%w: mesh failover timeout %v must exceed the try timeout %v", ErrInvalidConfig, c.FailoverTimeout, c.TryTimeout)
	case c.StartTimeout <= 0:
		return fmt.Errorf("%w: mesh start timeout %v must be positive", ErrInvalidConfig, c.StartTimeout)
	case c.CallTimeout <= 0:
		return fmt.Errorf("%w: mesh call timeout %v must be positive", ErrInvalidConfig, c.CallTimeout)
	}
	seen := make(map[int]bool, len(c.Concurrency))
	for _, n := range c.Concurrency {
		if n < 1 || n > maxPoolSeats {
			return fmt.Errorf("%w: mesh concurrency %d must be 1 to %d", ErrInvalidConfig, n, maxPoolSeats)
		}
		if seen[n] {
			return fmt.Errorf("%w: mesh concurrency %d listed twice", ErrInvalidConfig, n)
		}
		seen[n] = true
	}
	return nil
}

// maxPoolSeats is the largest pool the masters accept.
const maxPoolSeats = 1_000_000

// FSMBenchConfig configures G6, which runs the FSM package's Go benchmarks
// in a separate `go test` process so that its heap is measured alone.
type FSMBenchConfig struct {
	// ModuleDir is the licmesh module's root; empty finds it from this
	// source file's location.
	ModuleDir string
	// GoTool is the go command.
	GoTool string
	// Timeout bounds the whole `go test` run, compilation included.
	Timeout time.Duration
}

// DefaultFSMBenchConfig returns the settings `make bench` uses.
func DefaultFSMBenchConfig() FSMBenchConfig {
	return FSMBenchConfig{GoTool: "go", Timeout: 10 * time.Minute}
}

// Validate reports the first field that is out of range.
func (c FSMBenchConfig) Validate() error {
	switch {
	case c.GoTool == "":
		return fmt.Errorf("%w: fsm bench go tool is empty", ErrInvalidConfig)
	case c.Timeout <= 0:
		return fmt.Errorf("%w: fsm bench timeout %v must be positive", ErrInvalidConfig, c.Timeout)
	}
	return nil
}
