package hub

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the hub's Prometheus metrics, in a registry of its own.
type metrics struct {
	reg      *prometheus.Registry
	calls    *prometheus.CounterVec
	issued   *prometheus.CounterVec
	signins  *prometheus.CounterVec
	requests *prometheus.HistogramVec
	batches  *prometheus.CounterVec
}

func newMetrics(*Server) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "licmesh_hub_calls_total", Help: "API calls by procedure and code."},
			[]string{"procedure", "code"}),
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "licmesh_hub_licenses_issued_total", Help: "Licenses signed, by type."},
			[]string{"type"}),
		signins: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "licmesh_hub_signins_total", Help: "Sign-in attempts by result."},
			[]string{"result"}),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "licmesh_hub_request_seconds", Help: "API call latency.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8)}, []string{"procedure"}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "licmesh_hub_usage_batches_total",
			Help: "Usage batches received, by how (online, file) and outcome (accepted, duplicate)."}, []string{"via", "outcome"}),
	}
	m.reg.MustRegister(m.calls, m.issued, m.signins, m.requests, m.batches,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
