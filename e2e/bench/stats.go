package bench

import (
	"math"
	"slices"
	"time"
)

// Latencies summarizes a set of timed operations.
type Latencies struct {
	// N is the number of samples.
	N int
	// P50, P99 and Max are nearest-rank percentiles of the samples.
	P50, P99, Max time.Duration
}

// Summarize sorts samples in place and returns their percentiles. An empty
// slice gives the zero Latencies.
func Summarize(samples []time.Duration) Latencies {
	if len(samples) == 0 {
		return Latencies{}
	}
	slices.Sort(samples)
	return Latencies{
		N:   len(samples),
		P50: percentile(samples, 0.50),
		P99: percentile(samples, 0.99),
		Max: samples[len(samples)-1],
	}
}

// percentile uses the nearest-rank method on sorted samples, so the result is
// always an observed value rather than an interpolation.
func percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(p * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// Millis converts d to fractional milliseconds for a Result value.
func Millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Micros converts d to fractional microseconds for a Result value.
func Micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
