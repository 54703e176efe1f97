// Package meter is the collector's side of usage metering: it runs the
// usage sources (package sources), keeps each sample in the durable spool
// (package spool) and delivers the spool to the masters, deleting records
// only once the masters have committed them.
//
// # Flow
//
// The sources runner hands each sample to the meter, which encodes it as a
// licmeshv1.UsageSample and appends it to the spool; the append is durable
// when it returns. A sample larger than a spool record is split into
// several records with the same source and time: its scalars travel in the
// first, its users and logons are spread over all of them (each is an
// observation of its own, so the masters need not put them back together).
//
// A sender goroutine reads the records after the acknowledgement mark in
// batches bounded in records and bytes, sends each batch with ReportUsage
// (spool epoch, seqs and samples) and, when the answer is for this spool's
// epoch, acknowledges up to the answer's acked_seq, which deletes what the
// masters hold. It sends as soon as a sample is spooled (or after
// Config.SendInterval since the last report, when that is set) and otherwise
// waits on a channel, with no timer: an idle collector does nothing between
// samples.
//
// # Failure
//
// A report that fails (no master answers, a refusal such as a collector not
// enrolled, an answer for an older epoch or one that acknowledges nothing
// new) is retried with exponential backoff and full jitter between
// Config.RetryBase and Config.RetryMax; the records stay in the spool
// meanwhile, and a record sent twice is a no-op at the masters. A restarted
// meter sends whatever the spool still holds.
//
// # Records the masters refuse
//
// The masters refuse a whole batch when one record in it is invalid
// (InvalidArgument: a time more than a day ahead of their clock, a negative
// count...) or the request is too large (ResourceExhausted, from a master or
// from the client's own message limit). Every master would refuse that batch
// again, so it is not retried as it is: it is sent in halves, and a refused
// half in halves again, the halves that pass being acknowledged as usual,
// until a record refused on its own is found. That record is skipped:
// acknowledged in the spool without being committed, so it is never sent
// again, counted in Stats.RejectedRecords and logged once with its seq and
// the masters' reason (never its content). The masters see its seq as a gap.
//
// # When the masters know a newer spool
//
// The spool's epoch is fixed for its life, and the masters ignore every
// batch of an epoch below the newest they know for a collector. An answer
// for a higher epoch than the one sent means a newer spool of this
// collector reported (this one was restored from a backup, or recreated
// while the clock was set back), and this spool would report in vain for
// ever, every new sample included. So the meter moves to an epoch above the
// masters' and sends its pending records again under it, with the spool's
// seqs as they are: the masters count a new epoch's seqs from scratch and
// allow gaps, so no record needs rewriting. The epoch is kept in a file
// beside the spool directory, <spool_dir>.epoch, written durably before any
// report uses it and bound to the spool's own epoch, so that a spool that
// starts over drops it; the move is logged as an error and counted in
// Stats.EpochMoves. Records pending in a restored backup may have been
// counted already: the monthly metrics are unchanged by a sample seen
// twice (package usage), only a day's sample count and sums are not, which
// is the lesser harm than counting nothing more from this collector. A
// second move before any record went through under the first one (two
// collectors sharing one identity would take turns) waits for the backoff.
//
// # When the spool is full
//
// The spool never refuses a sample: when it reaches its size bound it
// deletes its oldest segment, sent or not (package spool explains why the
// oldest). The spool logs a warning with the seqs lost, and the meter counts
// them in Stats.DroppedFull (since start) beside the spool's lifetime count,
// Stats.Spool.DroppedRecords. The masters see the loss as a gap in the seqs.
//
// # The product is never blocked
//
// Sources run off the product's path already. An append waits for its sync
// at most Config.AppendTimeout; a sample that could not be stored at all is
// counted in Stats.DroppedSamples and logged, and the source carries on.
package meter
