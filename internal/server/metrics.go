package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus metrics, in a registry of its own
// (no global state: two servers in one test process do not collide).
type metrics struct {
	reg           *prometheus.Registry
	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	ingests       *prometheus.CounterVec
	ingestSeconds prometheus.Histogram
	findings      prometheus.Counter
	handler       http.Handler
}

func newMetrics(s *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ctem_http_requests_total", Help: "HTTP requests by route, method and status."}, []string{"route", "method", "status"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ctem_http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"route"})
	m.ingests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ctem_ingest_jobs_total", Help: "Ingest jobs by state reached (queued, succeeded, failed)."}, []string{"state"})
	m.ingestSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ctem_ingest_job_duration_seconds", Help: "Duration of ingest jobs, the re-analysis that follows included.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 12)})
	m.findings = prometheus.NewCounter(prometheus.CounterOpts{Name: "ctem_ingested_findings_total", Help: "Findings ingested by jobs (rate() gives findings per second)."})
	depth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ctem_job_queue_depth", Help: "Jobs queued or running."}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := s.st.QueueDepth(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	})
	m.reg.MustRegister(m.requests, m.latency, m.ingests, m.ingestSeconds, m.findings, depth,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return m
}

func (m *metrics) observe(route, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

func (s *Server) metricsHandler(w http.ResponseWriter, r *http.Request) error {
	s.metrics.handler.ServeHTTP(w, r)
	return nil
}
