package master

import (
	"sync"
	"time"

	armon "github.com/armon/go-metrics"
	armonprom "github.com/armon/go-metrics/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are one master's Prometheus counters. Raft and memberlist report
// through go-metrics' process-wide sink, which is bridged into the default
// Prometheus registry once per process (see initProcessMetrics).
type metrics struct {
	reg             *prometheus.Registry
	grants          prometheus.Counter
	regrants        prometheus.Counter
	refused         *prometheus.CounterVec
	releases        prometheus.Counter
	expiries        prometheus.Counter
	renewals        prometheus.Counter
	renewRefused    prometheus.Counter
	renewStreams    prometheus.Gauge
	leaderChecks    prometheus.Counter
	batches         prometheus.Counter
	batchOps        prometheus.Histogram
	forwarded       prometheus.Counter
	enrollments     prometheus.Counter
	enrollsRefused  *prometheus.CounterVec
	entSent         prometheus.Counter
	creditsConsumed *prometheus.CounterVec
}

func newMetrics(s *Server) *metrics {
	reg := prometheus.NewRegistry()
	f := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: "licmesh", Name: name, Help: help})
		reg.MustRegister(c)
		return c
	}
	m := &metrics{
		reg:          reg,
		grants:       f("lease_grants_total", "Leases granted (new seats)."),
		regrants:     f("lease_regrants_total", "Acquires answered with the holder's existing lease."),
		releases:     f("lease_releases_total", "Leases released by their collector."),
		expiries:     f("lease_expiries_total", "Leases expired by the leader."),
		renewals:     f("lease_renewals_total", "Lease renewals answered from the leader's memory."),
		renewRefused: f("lease_renewals_refused_total", "Renewals refused (unknown or expired lease)."),
		renewStreams: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "licmesh", Name: "renewal_streams",
			Help: "Collectors' renewal streams open on this master."}),
		leaderChecks: f("leader_verifications_total", "Raft barriers that confirmed leadership for the renewals waiting on them."),
		batches:      f("lease_batches_total", "Raft entries carrying lease operations."),
		forwarded:    f("forwarded_requests_total", "Requests forwarded from this follower to the leader."),
		enrollments:  f("enrollments_total", "Collectors enrolled."),
		entSent:      f("entitlement_documents_sent_total", "Signed entitlement documents sent to collectors."),
		creditsConsumed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "licmesh", Name: "credits_consumed_total", Help: "Usage credits consumed through this master, by unit.",
		}, []string{"unit"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "licmesh", Name: "lease_refusals_total", Help: "Acquires refused, by reason.",
		}, []string{"reason"}),
		enrollsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "licmesh", Name: "enrollments_refused_total", Help: "Enrollments refused, by reason.",
		}, []string{"reason"}),
		batchOps: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "licmesh", Name: "lease_batch_ops", Help: "Lease operations per Raft entry.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12),
		}),
	}
	reg.MustRegister(m.refused, m.enrollsRefused, m.batchOps, m.creditsConsumed, m.renewStreams)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "licmesh", Name: "credits_low", Help: "Licenses whose usage credits are at or below their alert level, or exhausted.",
	}, func() float64 {
		n := 0
		for _, b := range s.fsm.Credits() {
			if b.Low {
				n++
			}
		}
		return float64(n)
	}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "licmesh", Name: "leases", Help: "Leases in the replicated state.",
	}, func() float64 { return float64(s.fsm.Counts().Leases) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "licmesh", Name: "is_leader", Help: "1 on the leader.",
	}, func() float64 {
		if s.node != nil && s.node.IsLeader() {
			return 1
		}
		return 0
	}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "licmesh", Name: "clock_tampered", Help: "1 when this master's clock is more than 24 h behind trusted time.",
	}, func() float64 {
		if s.clockTampered() {
			return 1
		}
		return 0
	}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "licmesh", Name: "trusted_time_seconds", Help: "The replicated high-water mark of trusted time.",
	}, func() float64 { return float64(s.fsm.TrustedTime().UnixMilli()) / 1000 }))
	return m
}

var processMetrics struct {
	once sync.Once
	reg  *prometheus.Registry
}

// initProcessMetrics bridges go-metrics (raft, memberlist) into a Prometheus
// registry. go-metrics has one sink per process, so several masters in one
// process (the tests) share it.
func initProcessMetrics() *prometheus.Registry {
	processMetrics.once.Do(func() {
		reg := prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		sink, err := armonprom.NewPrometheusSinkFrom(armonprom.PrometheusOpts{
			Expiration: time.Minute, Registerer: reg,
		})
		if err == nil {
			cfg := armon.DefaultConfig("licmesh")
			cfg.EnableHostname = false
			cfg.EnableRuntimeMetrics = false
			_, _ = armon.NewGlobal(cfg, sink)
		}
		processMetrics.reg = reg
	})
	return processMetrics.reg
}
