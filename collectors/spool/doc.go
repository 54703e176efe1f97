// Package spool is the collector's durable, bounded usage spool: samples are
// appended to segment files on the collector's disk, each under a sequence
// number, and stay there until a master acknowledges them.
//
// # Use
//
// Sources call Append; it returns once the record is on disk (fdatasync, with
// concurrent appends sharing one sync: group commit). The uploader builds a
// batch with Pending(afterSeq, ...), sends it to a master as (collector,
// sequence range), and calls Ack(lastSeq) when the master has committed it.
// Ack makes the mark durable before deleting the segments it covers, so an
// acknowledged record is never returned again, even after a crash. Masters
// keep each collector's high-water sequence, so sending a batch twice is
// harmless; a gap between afterSeq and the first record Pending returns means
// records were lost here (dropped when full, or skipped as corrupt), and
// Stats says which.
//
// Sequence numbers start at 1, grow by one per record and are never handed to
// a master twice: the high-water mark survives restarts in segment names and
// in the state file, even when every segment has been deleted. The one seq
// that can be reused is that of a torn record (a write cut by a crash): it
// was never durable, so no master has seen it (Pending returns only durable
// records; with Sync off it syncs first).
//
// # Epoch
//
// What the masters keep is a high-water seq per collector and spool epoch.
// Epoch is a number chosen when the spool's state is first written (the
// Unix time in nanoseconds) and kept in the state file for the spool's
// life. A spool that starts over, in a new or wiped directory or after its
// state file was deleted, has no record of the seqs it handed out before,
// so it takes a new epoch, above the old one unless the clock went back
// (Open also keeps it above the time of every record still in the
// directory): the masters then count its seqs from scratch instead of
// taking them for duplicates. A state file from before epochs gets one at
// Open.
//
// # On-disk format
//
// The directory holds:
//
//	lock                       flock(2)ed while a Spool is open
//	state.json                 {"version":1,"acked_seq":..,"next_seq":..,
//	                            "dropped_records":..,"dropped_segments":..,
//	                            "epoch":..},
//	                            replaced atomically (tmp, fsync, rename, fsync dir)
//	seg-<first seq, %020d>.log segments, oldest first
//
// Anything else is ignored and counted in Stats.UnknownFiles. A segment is a
// plain sequence of records with consecutive seqs, the first one being the
// seq in its name; there is no file header. A record is a 28-byte header and
// the payload, integers little-endian:
//
//	off size field
//	  0    2 magic "SP"
//	  2    1 version (1)
//	  3    1 flags (0; anything else is corrupt)
//	  4    4 payload length (1 .. 16 MiB)
//	  8    8 seq
//	 16    8 time, Unix nanoseconds
//	 24    4 CRC-32C (Castagnoli) of the payload followed by header bytes 0..23
//	 28    n payload, opaque to the spool
//
// The CRC covers the payload first so that Append can checksum a large
// payload before taking the lock and finish with the 24 header bytes under it.
//
// # Recovery
//
// Open scans every segment. A bad record (short, bad magic/CRC, or a seq out
// of order) at the end of the newest segment, with no valid record after it,
// is a torn write from a crash: it is truncated away and counted in
// Stats.TornBytes. Any other bad record means corruption: the rest of that
// segment is skipped (never deleted before it is acknowledged, so it can be
// examined), the segment is counted in Stats.CorruptSegments and
// Stats.SkippedBytes and logged once, and the spool carries on. Sequence
// numbers continue past whatever the skipped bytes could have held. A record
// that fails its check later, when Pending reads it, is handled the same way.
//
// # When full
//
// Config.MaxBytes bounds the segments' total size. When an Append would pass
// it, the oldest segment is deleted, acknowledged or not, and its
// unacknowledged records are counted as dropped (Stats.DroppedRecords,
// DroppedSegments, LastDropped, persisted across restarts); Config.OnFull is
// called and a warning logged. Append never blocks on a full spool and never
// refuses a sample for lack of room.
//
// Why drop the oldest rather than refuse the newest: the spool only fills
// when no master has acknowledged anything for a long time (64 MiB is weeks
// of samples). Refusing would freeze it on the oldest data and lose
// everything from then until a master returns, so the month still open,
// the one masters can still count, would get nothing, while the samples kept
// are for a period whose month is the likeliest to be closed already (P3:
// closed months never change). The monthly metrics are "at any time during
// the month" counts and high-water marks, so a new sample describes current
// users that old samples described too, while an old one carries nothing
// newer ones do not, beyond users that have since gone. Refusal also makes
// gaming easy: cut the collector off until the spool fills, and nothing more
// is counted. And refusing only moves the drop to the source, which must not
// block the product either, and would drop silently. Dropping whole old
// segments keeps the loss in one contiguous seq range that the master sees
// as a gap and Stats and OnFull make loud.
//
// # Concurrency
//
// Every method is safe for concurrent use. Append holds the spool's lock only
// to write its record to the page cache, never across an fsync; Ack holds it
// while it rewrites the state file.
package spool
