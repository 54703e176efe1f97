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
// A report that fails (no master answers, a refusal, an answer for another
// epoch or one that acknowledges nothing new) is retried with exponential
// backoff and full jitter between Config.RetryBase and Config.RetryMax; the
// records stay in the spool meanwhile, and a record sent twice is a no-op at
// the masters. A restarted meter sends whatever the spool still holds.
//
// An answer for another epoch means the masters know a different spool for
// this collector: nothing is acknowledged, so nothing is lost, and the
// failure is logged and shown in Stats until it is resolved.
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
