package notify_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/ctem-dev/ctem/internal/notify"
)

// BenchmarkDigest gathers 100,000 events into one digest and writes its
// Slack, Teams and e-mail forms: the cost of a run after a large rescan,
// and the size of what is sent, which stays bounded whatever the count.
func BenchmarkDigest(b *testing.B) {
	kinds := []string{notify.KindPath, notify.KindSLABreach, notify.KindAcceptanceExpiring, notify.KindPolicy}
	events := make([]notify.Event, 100_000)
	for i := range events {
		events[i] = notify.Event{Kind: kinds[i%4], Key: fmt.Sprint("k", i), Title: fmt.Sprintf("CVE-2024-%05d on image:registry/app-%d", i, i%300),
			Detail: "due 2026-11-30 (critical), 3 days overdue", Owner: "team-web", Rank: float64(i % 977)}
	}
	var size int
	for b.Loop() {
		m, _ := notify.Digest(events, 20, now)
		s, _ := json.Marshal(notify.SlackPayload(m))
		t, _ := json.Marshal(notify.TeamsPayload(m))
		e := notify.EmailBody(m, "ctem@example.com", []string{"sec@example.com"}, now)
		size = len(s) + len(t) + len(e)
	}
	b.ReportMetric(float64(size), "bytes-sent")
}
