package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/examples"
	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/webhook"
)

// receiver is a real webhook receiver on loopback that records what it
// gets and answers 500 to the first delivery.
type receiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []received
}

type received struct {
	event, delivery, signature string
	body                       []byte
	status                     int
}

func newReceiver(t testing.TB) *receiver {
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		status := http.StatusOK
		if len(rc.got) == 0 {
			status = http.StatusInternalServerError
		}
		rc.got = append(rc.got, received{r.Header.Get(webhook.HeaderEvent), r.Header.Get(webhook.HeaderDelivery), r.Header.Get(webhook.HeaderSignature), body, status})
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) all() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// TestWebhookDeliveries subscribes a real loopback receiver (allowed by
// the explicit private-address switch), uploads reports that open attack
// paths, and checks that every open path is announced once, validated
// ones twice (path.opened and path.validated), each delivery signed, the
// first one retried after its 500 with the same id, and every attempt
// listed.
func TestWebhookDeliveries(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	f := newFixtureWith(t, Limits{}, false, func(c *Config) {
		c.Webhooks = WebhookConfig{Guard: webhook.Guard{Allow: []string{"127.0.0.1"}, AllowPrivate: true}, Backoff: 20 * time.Millisecond}
	})
	ctx := context.Background()
	var estate []app.Input
	for _, in := range demoInputs(t) {
		if !strings.HasPrefix(in.Name, "reports/") {
			estate = append(estate, in)
		}
	}
	if _, err := f.app.Ingest(ctx, app.IngestRequest{Inputs: estate}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.Analyze(ctx, graph.Options{}); err != nil {
		t.Fatal(err)
	}
	before, err := f.app.Paths(ctx, app.PathQuery{})
	if err != nil {
		t.Fatal(err)
	}
	secret := "a-secret-of-some-length"
	res := f.do(t, "POST", "/api/v1/webhooks", "admin", "application/json",
		strings.NewReader(`{"url":"`+rc.srv.URL+`/hook","events":["path.opened","path.validated","path.closed"],"secret":"`+secret+`"}`))
	if res.status != http.StatusCreated {
		t.Fatalf("POST /api/v1/webhooks = %d %s", res.status, res.body)
	}
	var hook CreatedWebhook
	res.decode(t, &hook)
	if hook.Secret != secret {
		t.Errorf("created webhook's secret = %q, want the one given", hook.Secret)
	}
	for _, name := range examples.Inputs {
		if !strings.HasPrefix(name, "reports/") {
			continue
		}
		data, _ := examples.Files.ReadFile(name)
		up := f.do(t, "POST", "/api/v1/ingest?name="+strings.TrimPrefix(name, "reports/")+"&target="+examples.Targets[name], "uploader", "application/json", bytes.NewReader(data))
		if up.status != http.StatusAccepted {
			t.Fatalf("POST /api/v1/ingest %s = %d %s", name, up.status, up.body)
		}
		var j store.Job
		up.decode(t, &j)
		if j = f.waitJob(t, j.ID, "uploader"); j.State != store.JobSucceeded {
			t.Fatalf("job %s = %s %s", j.ID, j.State, j.Error)
		}
	}
	after, err := f.app.Paths(ctx, app.PathQuery{})
	if err != nil {
		t.Fatal(err)
	}
	wantOpened, wantValidated := map[string]bool{}, map[string]bool{}
	for _, p := range after.Paths {
		if !slices.ContainsFunc(before.Paths, func(q graph.Path) bool { return q.ID == p.ID }) {
			wantOpened[p.ID] = true
			if p.Validated {
				wantValidated[p.ID] = true
			}
		}
	}
	if len(wantOpened) == 0 {
		t.Fatalf("the reports opened no path: nothing to deliver")
	}
	want := len(wantOpened) + len(wantValidated) + 1 // the first is sent twice
	deadline := time.Now().Add(30 * time.Second)
	for len(rc.all()) < want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // nothing more may come
	got := rc.all()
	if len(got) != want {
		t.Fatalf("receiver got %d deliveries, want %d (%d opened, %d validated, one retry)", len(got), want, len(wantOpened), len(wantValidated))
	}
	opened, validated := map[string]bool{}, map[string]bool{}
	for i, d := range got {
		if err := webhook.Verify([]byte(secret), d.signature, d.body, time.Now(), time.Minute); err != nil {
			t.Errorf("delivery %d (%s): Verify = %v, want nil", i, d.event, err)
		}
		var p webhook.Payload
		if err := json.Unmarshal(d.body, &p); err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
		var pd webhook.PathData
		if err := json.Unmarshal(p.Data, &pd); err != nil {
			t.Fatalf("delivery %d data: %v", i, err)
		}
		if p.ID != d.delivery || p.Event != d.event {
			t.Errorf("delivery %d: payload id %s event %s, headers %s %s, want the same", i, p.ID, p.Event, d.delivery, d.event)
		}
		if i == 0 {
			continue // answered 500, sent again
		}
		switch d.event {
		case webhook.PathOpened:
			opened[pd.PathID] = true
		case webhook.PathValidated:
			if !pd.Validated || pd.Jewel == "" {
				t.Errorf("path.validated %s: validated %v jewel %q, want true and a jewel", pd.PathID, pd.Validated, pd.Jewel)
			}
			validated[pd.PathID] = true
		default:
			t.Errorf("delivery %d: event %s, want path.opened or path.validated (no path closes)", i, d.event)
		}
	}
	if !mapsEqual(opened, wantOpened) || !mapsEqual(validated, wantValidated) {
		t.Errorf("paths announced opened %v validated %v, want %v and %v", opened, validated, wantOpened, wantValidated)
	}
	if got[0].status != 500 || !slices.ContainsFunc(got[1:], func(d received) bool { return d.delivery == got[0].delivery }) {
		t.Errorf("the delivery answered 500 (%s) was not sent again with its id", got[0].delivery)
	}
	// The receiver answered before the server recorded the attempt.
	var attempts []store.WebhookAttempt
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		res = f.do(t, "GET", "/api/v1/webhooks/"+hook.ID+"/deliveries?limit=1000", "admin", "", nil)
		attempts = nil
		res.decode(t, &attempts)
		if len(attempts) >= want {
			break
		}
	}
	if len(attempts) != want {
		t.Errorf("GET deliveries = %d attempts, want %d", len(attempts), want)
	}
	var first []store.WebhookAttempt
	for _, a := range attempts {
		if a.JobID == got[0].delivery {
			first = append(first, a)
		}
	}
	if len(first) != 2 || first[0].Attempt != 2 || first[0].Status != 200 || first[1].Attempt != 1 || first[1].Status != 500 || first[1].Error == "" {
		t.Errorf("attempts of the retried delivery = %+v, want attempt 2 (200) then attempt 1 (500 with its error)", first)
	}
}

func mapsEqual(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// TestWebhookGuard checks the destinations a server refuses: a literal
// loopback address at creation, a host off the allow-list, and a name
// that resolves to loopback at delivery (the dialer checks the address
// it connects to), which is recorded and not retried.
func TestWebhookGuard(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	f := newFixtureWith(t, Limits{}, false, func(c *Config) {
		c.Webhooks = WebhookConfig{Guard: webhook.Guard{Allow: []string{"localhost", "127.0.0.1"}}, Backoff: 10 * time.Millisecond}
	})
	port := rc.srv.URL[strings.LastIndex(rc.srv.URL, ":"):]
	for _, u := range []string{"http://127.0.0.1" + port + "/hook", "https://127.0.0.1" + port + "/hook", "https://other.example.com/hook"} {
		res := f.do(t, "POST", "/api/v1/webhooks", "admin", "application/json", strings.NewReader(`{"url":"`+u+`","events":["path.opened"]}`))
		if res.status != http.StatusBadRequest {
			t.Errorf("POST /api/v1/webhooks %s = %d %s, want 400", u, res.status, res.body)
		}
	}
	res := f.do(t, "POST", "/api/v1/webhooks", "admin", "application/json", strings.NewReader(`{"url":"https://localhost`+port+`/hook","events":["path.opened"]}`))
	if res.status != http.StatusCreated {
		t.Fatalf("POST /api/v1/webhooks localhost = %d %s, want 201", res.status, res.body)
	}
	var hook CreatedWebhook
	res.decode(t, &hook)
	f.srv.emit(context.Background(), webhook.PathOpened, "p1", webhook.PathData{PathID: "p1"})
	var attempts []store.WebhookAttempt
	deadline := time.Now().Add(10 * time.Second)
	for len(attempts) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		attempts, _ = f.st.WebhookAttempts(context.Background(), hook.ID, 0)
	}
	var j store.Job
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && j.State != store.JobFailed; time.Sleep(20 * time.Millisecond) {
		if len(attempts) > 0 {
			j, _ = f.st.Job(context.Background(), attempts[0].JobID)
		}
	}
	attempts, _ = f.st.WebhookAttempts(context.Background(), hook.ID, 0)
	if len(attempts) != 1 || attempts[0].Status != 0 || !strings.Contains(attempts[0].Error, "loopback") {
		t.Errorf("attempts = %+v, want one refused as loopback, not retried", attempts)
	}
	if n := len(rc.all()); n != 0 {
		t.Errorf("receiver got %d deliveries, want none", n)
	}
	if j.State != store.JobFailed {
		t.Errorf("delivery job = %+v, want failed", j)
	}
	// The same event again queues nothing: its delivery exists.
	f.srv.emit(context.Background(), webhook.PathOpened, "p1", webhook.PathData{PathID: "p1"})
	if n, _ := f.st.QueueDepth(context.Background()); n != 0 {
		t.Errorf("QueueDepth after the same event again = %d, want 0", n)
	}
}
