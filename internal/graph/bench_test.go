package graph

import (
	"runtime"
	"testing"
	"time"
)

// estate100k is about 100k assets and 1M weaknesses.
var estate100k = SynthConfig{Seed: 1, Apps: 5556, WeaknessesPerImage: 60}

// peakHeap samples HeapInuse every 10ms until stop is called, and
// reports the peak above the heap in use at the start (the input).
func peakHeap(b *testing.B) (stop func()) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	peak := base
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		b.ReportMetric(float64(base)/(1<<20), "input-heap-MiB")
		b.ReportMetric(float64(peak-base)/(1<<20), "peak-extra-heap-MiB")
	}
}

func BenchmarkAnalyze100k(b *testing.B) {
	in := Synthesize(estate100k)
	b.ReportAllocs()
	stop := peakHeap(b)
	var res *Result
	for b.Loop() {
		var err error
		if res, err = Analyze(in, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	stop()
	b.ReportMetric(float64(len(res.Paths)), "paths")
}

func BenchmarkReanalyzeOneImage(b *testing.B) {
	in := Synthesize(estate100k)
	prev, err := Analyze(in, Options{})
	if err != nil {
		b.Fatal(err)
	}
	// One image's scan changes: its first exposure becomes KEV.
	in.Weaknesses[0].KEV = !in.Weaknesses[0].KEV
	b.ReportAllocs()
	stop := peakHeap(b)
	for b.Loop() {
		if _, _, err := Reanalyze(prev, in, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	stop()
}

func BenchmarkBuild1MAssets(b *testing.B) {
	in := Synthesize(SynthConfig{Seed: 2, Apps: 55556, WeaknessesPerImage: 2})
	b.ReportAllocs()
	stop := peakHeap(b)
	var g *Graph
	for b.Loop() {
		g = Build(in)
	}
	stop()
	b.ReportMetric(float64(g.NumStates()), "states")
	b.ReportMetric(float64(g.NumEdges()), "edges")
	runtime.KeepAlive(g)
}
