package spool

import (
	"fmt"
	"log/slog"

	"github.com/licmesh/licmesh/licensing/clock"
)

// Defaults and limits of Config.
const (
	// DefaultMaxBytes bounds the spool's segments on disk.
	DefaultMaxBytes = 64 << 20
	// DefaultSegmentBytes is the size at which a segment is closed and a new
	// one started; it is also how much the full policy drops at once.
	DefaultSegmentBytes = 4 << 20
	// DefaultMaxRecordBytes bounds one payload.
	DefaultMaxRecordBytes = 256 << 10
	// MaxRecordLimit is the largest MaxRecordBytes accepted, and the largest
	// payload the on-disk format allows.
	MaxRecordLimit = 16 << 20
	// HeaderBytes is the size of a record's header on disk.
	HeaderBytes = headerSize
)

// Config configures a Spool.
type Config struct {
	// MaxBytes bounds the total size of the segment files. It must hold at
	// least two segments, so that dropping the oldest always makes room.
	MaxBytes int64
	// SegmentBytes is the size past which a new segment is started. It must
	// hold at least one record of MaxRecordBytes.
	SegmentBytes int64
	// MaxRecordBytes bounds one payload.
	MaxRecordBytes int
	// Sync makes Append return only when its record is durable. Off, records
	// reach the disk when a segment is rotated, when Pending runs (it syncs
	// before reading, so nothing unsynced ever reaches a master) and at
	// Close; a crash can lose the latest records and reuse their seqs.
	Sync bool
	// Clock stamps records; nil means the system clock.
	Clock clock.Clock
	// Logger gets recovery and full-spool events; nil discards them.
	Logger *slog.Logger
	// OnFull, when set, is called after Append dropped an old segment to make
	// room, with the stats after the drop, so that the owner can alert. It
	// runs on the appending goroutine, outside the spool's lock, and must
	// return quickly.
	OnFull func(Stats)
}

// DefaultConfig returns the defaults: 64 MiB in 4 MiB segments, 256 KiB
// records, every Append durable.
func DefaultConfig() Config {
	return Config{
		MaxBytes:       DefaultMaxBytes,
		SegmentBytes:   DefaultSegmentBytes,
		MaxRecordBytes: DefaultMaxRecordBytes,
		Sync:           true,
	}
}

// Validate reports the first field out of range, wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	switch {
	case c.MaxRecordBytes <= 0 || c.MaxRecordBytes > MaxRecordLimit:
		return fmt.Errorf("%w: max_record_bytes %d is outside 1..%d", ErrInvalidConfig, c.MaxRecordBytes, MaxRecordLimit)
	case c.SegmentBytes < int64(headerSize+c.MaxRecordBytes):
		return fmt.Errorf("%w: segment_bytes %d cannot hold one record of max_record_bytes %d plus its %d-byte header",
			ErrInvalidConfig, c.SegmentBytes, c.MaxRecordBytes, headerSize)
	case c.MaxBytes/2 < c.SegmentBytes:
		return fmt.Errorf("%w: max_bytes %d must be at least twice segment_bytes %d", ErrInvalidConfig, c.MaxBytes, c.SegmentBytes)
	}
	return nil
}

// withDefaults fills the optional fields.
func (c Config) withDefaults() Config {
	if c.Clock == nil {
		c.Clock = clock.System{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
