package bench

import "errors"

var (
	// ErrInvalidConfig is returned when a Config or RawRaftConfig field is out
	// of range; the wrapping message names the field.
	ErrInvalidConfig = errors.New("bench: invalid config")
	// ErrUnknownMeasurement is returned when a selected ID is not registered.
	ErrUnknownMeasurement = errors.New("bench: unknown measurement")
	// ErrDuplicateMeasurement is returned when an ID is registered twice.
	ErrDuplicateMeasurement = errors.New("bench: duplicate measurement")
	// ErrNoLeader is returned when a raw Raft cluster elects no leader in time.
	ErrNoLeader = errors.New("bench: no raft leader")
	// ErrApply is returned when a Raft apply fails during a measurement.
	ErrApply = errors.New("bench: raft apply failed")
	// ErrProbe is returned when an fsync or round-trip probe fails.
	ErrProbe = errors.New("bench: probe failed")
	// ErrNoSamples is returned when a measurement window completed no operation.
	ErrNoSamples = errors.New("bench: no samples in window")
	// ErrBadToken is returned when a join token cannot be parsed or does not
	// pin the cluster's CA.
	ErrBadToken = errors.New("bench: bad join token")
	// ErrMesh is returned when a call to a meshd master fails or a cluster of
	// masters does not start or come back in time.
	ErrMesh = errors.New("bench: mesh")
	// ErrNotAcked is returned when the masters answer a usage report
	// without acknowledging every record it carried.
	ErrNotAcked = errors.New("bench: usage not acknowledged")
	// ErrLeaderChanged is returned when leadership moved during a
	// measurement that counts Raft entries on one leader.
	ErrLeaderChanged = errors.New("bench: leader changed during measurement")
	// ErrFSMBench is returned when the FSM benchmarks fail or print
	// something G6 cannot read.
	ErrFSMBench = errors.New("bench: fsm benchmarks")
	// ErrProduct is returned when demoproduct cannot create U2's database
	// or its sources file, or prints a summary U2 cannot read.
	ErrProduct = errors.New("bench: demo product")
)
