package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ctem-dev/ctem/internal/app"
)

// metrics are the server's Prometheus metrics, in a registry of its own
// (no global state: two servers in one test process do not collide).
type metrics struct {
	reg             *prometheus.Registry
	requests        *prometheus.CounterVec
	latency         *prometheus.HistogramVec
	ingests         *prometheus.CounterVec
	ingestSeconds   prometheus.Histogram
	findings        prometheus.Counter
	findingsRate    prometheus.Gauge
	analysisSeconds *prometheus.HistogramVec
	deliveries      *prometheus.CounterVec
	handler         http.Handler
}

// pathCounter is what the path gauge reads at each scrape.
type pathCounter interface {
	OpenPathsByJewel(ctx context.Context) (map[string]int, error)
}

// pathsCollector reports the open attack paths per crown jewel, read
// from the database at each scrape, so that analyses run by the command
// line on the same database show too.
type pathsCollector struct {
	st   pathCounter
	desc *prometheus.Desc
}

func (c pathsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c pathsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	m, err := c.st.OpenPathsByJewel(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for jewel, n := range m {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), jewel)
	}
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
	m.findingsRate = prometheus.NewGauge(prometheus.GaugeOpts{Name: "ctem_ingest_findings_per_second", Help: "Findings per second of the last ingest job (its findings over its duration)."})
	m.analysisSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ctem_analysis_duration_seconds", Help: "Duration of attack-path analyses run by the server, by trigger (ingest, feeds).",
		Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 12)}, []string{"trigger"})
	m.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ctem_webhook_deliveries_total", Help: "Webhook delivery attempts by outcome (delivered, retried, failed)."}, []string{"outcome"})
	depth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ctem_job_queue_depth", Help: "Jobs queued or running."}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := s.st.QueueDepth(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	})
	m.reg.MustRegister(m.requests, m.latency, m.ingests, m.ingestSeconds, m.findings, m.findingsRate, m.analysisSeconds, m.deliveries, depth,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if pc, ok := s.st.(pathCounter); ok {
		m.reg.MustRegister(pathsCollector{st: pc, desc: prometheus.NewDesc("ctem_open_paths", "Open attack paths by crown jewel.", []string{"jewel"}, nil)})
	}
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return m
}

func (m *metrics) observe(route, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

// observeAnalysis records an analysis the server ran.
func (s *Server) observeAnalysis(_ context.Context, res *app.AnalysisResult, trigger string) {
	if res != nil && res.Duration > 0 {
		s.metrics.analysisSeconds.WithLabelValues(trigger).Observe(res.Duration.Seconds())
	}
}

func (s *Server) metricsHandler(w http.ResponseWriter, r *http.Request) error {
	s.metrics.handler.ServeHTTP(w, r)
	return nil
}
