package notify_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/netguard"
	"github.com/ctem-dev/ctem/internal/notify"
)

var now = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)

func events() []notify.Event {
	return []notify.Event{
		{Kind: notify.KindSLABreach, Key: "b1", Title: "CVE-2022-22965 on shop-api past due", Detail: "due 2026-11-30 (kev_internet)", Owner: "payments", Rank: 3},
		{Kind: notify.KindPath, Key: "p1", Title: "internet -> <!channel> admin of db", Detail: "risk 9.0", Rank: 9},
		{Kind: notify.KindPath, Key: "p2", Title: "internet -> secrets [click](https://evil.example)", Rank: 12},
		{Kind: notify.KindAcceptanceExpiring, Key: "a1", Title: "acceptance of CVE-1 on web expires 2026-12-05", Rank: 1},
	}
}

func TestDigest(t *testing.T) {
	t.Parallel()
	if _, ok := notify.Digest(nil, 0, now); ok {
		t.Errorf("Digest(nil) = ok, want nothing to tell")
	}
	m, ok := notify.Digest(events(), 3, now)
	if !ok {
		t.Fatal("Digest(events) = not ok")
	}
	var keys []string
	for _, e := range m.Events {
		keys = append(keys, e.Key)
	}
	if diff := cmp.Diff(keys, []string{"p2", "p1", "b1"}); diff != "" {
		t.Errorf("Digest(events, 3) keys (-got +want):\n%s", diff)
	}
	if m.More != 1 || m.Counts[notify.KindPath] != 2 || m.Counts[notify.KindAcceptanceExpiring] != 1 {
		t.Errorf("Digest(events, 3) = more %d counts %v, want more 1, 2 paths, 1 acceptance", m.More, m.Counts)
	}
	want := "ctem: 2 new validated attack paths to crown jewels, 1 SLA breaches, 1 risk acceptances expiring"
	if m.Title != want {
		t.Errorf("Digest().Title = %q, want %q", m.Title, want)
	}
}

// hook is a stand-in for an incoming webhook: it answers the first
// request with first (when not 0) and Retry-After, then 200, and keeps
// the payloads.
type hook struct {
	mu       sync.Mutex
	first    int
	status   int
	body     string
	payloads []map[string]any
	calls    int
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	if h.calls == 1 && h.first != 0 {
		w.Header().Set("Retry-After", "2")
		w.WriteHeader(h.first)
		return
	}
	var p map[string]any
	data, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(data, &p); err != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	h.payloads = append(h.payloads, p)
	if h.status != 0 {
		w.WriteHeader(h.status)
	}
	fmt.Fprint(w, h.body)
}

func poster(srv *httptest.Server, path string, waits *[]time.Duration) notify.Poster {
	return notify.Poster{URL: srv.URL + path, Policy: netguard.Policy{AllowHTTP: true, AllowPrivate: true},
		Sleep: func(_ context.Context, d time.Duration) error { *waits = append(*waits, d); return nil }}
}

func TestSlack(t *testing.T) {
	t.Parallel()
	h := &hook{first: http.StatusTooManyRequests, body: "ok"}
	srv := httptest.NewServer(h)
	defer srv.Close()
	var waits []time.Duration
	s := &notify.Slack{Poster: poster(srv, "/services/T000/B000/s3cr3t", &waits)}
	m, _ := notify.Digest(events(), 0, now)
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatalf("Slack.Send() = %v", err)
	}
	if len(waits) != 1 || waits[0] != 2*time.Second || len(h.payloads) != 1 {
		t.Fatalf("Slack.Send() waits %v, %d payloads; want one 2s wait (429 Retry-After), one payload", waits, len(h.payloads))
	}
	p := h.payloads[0]
	if p["text"] != m.Title {
		t.Errorf("payload text = %v, want the title as the notification fallback", p["text"])
	}
	blocks := p["blocks"].([]any)
	if len(blocks) != 4 || len(blocks) > 50 {
		t.Fatalf("payload has %d blocks, want header and three sections", len(blocks))
	}
	head := blocks[0].(map[string]any)
	if head["type"] != "header" || head["text"].(map[string]any)["type"] != "plain_text" {
		t.Errorf("first block = %v, want a plain_text header", head)
	}
	sec := blocks[1].(map[string]any)["text"].(map[string]any)
	text := sec["text"].(string)
	if sec["type"] != "mrkdwn" || len(text) > 3000 {
		t.Errorf("section = %v, want mrkdwn of at most 3000 characters", sec)
	}
	if strings.Contains(text, "<!channel>") || !strings.Contains(text, "&lt;!channel&gt;") {
		t.Errorf("section text = %q, want <!channel> escaped", text)
	}
	if !strings.Contains(blocks[2].(map[string]any)["text"].(map[string]any)["text"].(string), "owner: payments") {
		t.Errorf("breach section = %v, want the owner", blocks[2])
	}
}

func TestWebhookErrorsKeepTheSecret(t *testing.T) {
	t.Parallel()
	h := &hook{status: http.StatusForbidden, body: "invalid_token"}
	srv := httptest.NewServer(h)
	defer srv.Close()
	var waits []time.Duration
	s := &notify.Slack{Poster: poster(srv, "/services/T000/B000/s3cr3t", &waits)}
	m, _ := notify.Digest(events(), 0, now)
	err := s.Send(context.Background(), m)
	if he, ok := errors.AsType[*notify.HTTPError](err); !ok || he.Status != http.StatusForbidden {
		t.Errorf("Slack.Send(403) = %v, want an HTTPError 403", err)
	}
	if err == nil || strings.Contains(err.Error(), "s3cr3t") || len(waits) != 0 {
		t.Errorf("Slack.Send(403) = %v after %d waits; want an error without the URL's token, no retry", err, len(waits))
	}
	// The default policy refuses the loopback server before any request.
	calls := h.calls
	s.Policy = netguard.Policy{AllowHTTP: true}
	err = s.Send(context.Background(), m)
	if !errors.Is(err, netguard.ErrBlocked) || h.calls != calls || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("Slack.Send(loopback, default policy) = %v, %d calls; want ErrBlocked, no call, no token", err, h.calls-calls)
	}
	// So does an allow-list without the host.
	s.Policy = netguard.Policy{AllowHTTP: true, AllowPrivate: true, AllowHosts: []string{"hooks.slack.com"}}
	if err := s.Send(context.Background(), m); !errors.Is(err, netguard.ErrBlocked) {
		t.Errorf("Slack.Send(host not allowed) = %v, want ErrBlocked", err)
	}
}

func TestTeams(t *testing.T) {
	t.Parallel()
	h := &hook{first: http.StatusBadGateway, status: http.StatusAccepted}
	srv := httptest.NewServer(h)
	defer srv.Close()
	var waits []time.Duration
	tm := &notify.Teams{Poster: poster(srv, "/workflows/abc/triggers/manual/paths/invoke?sig=s3cr3t", &waits)}
	m, _ := notify.Digest(events(), 0, now)
	if err := tm.Send(context.Background(), m); err != nil {
		t.Fatalf("Teams.Send() = %v", err)
	}
	if len(h.payloads) != 1 || len(waits) != 1 {
		t.Fatalf("Teams.Send() = %d payloads after %d waits, want 1 after a retry of the 502", len(h.payloads), len(waits))
	}
	p := h.payloads[0]
	att := p["attachments"].([]any)[0].(map[string]any)
	card := att["content"].(map[string]any)
	if p["type"] != "message" || att["contentType"] != "application/vnd.microsoft.card.adaptive" || card["type"] != "AdaptiveCard" || card["version"] != "1.4" {
		t.Errorf("payload = %v, want a message with one Adaptive Card 1.4", p)
	}
	var texts []string
	for _, b := range card["body"].([]any) {
		bm := b.(map[string]any)
		if bm["type"] != "TextBlock" {
			t.Errorf("card element %v, want TextBlocks", bm)
		}
		texts = append(texts, bm["text"].(string))
	}
	all := strings.Join(texts, "\n")
	if strings.Contains(all, "[click](https") || !strings.Contains(all, `\[click\]\(https`) {
		t.Errorf("card text = %q, want the markdown link escaped", all)
	}
}

// smtpServer is a small SMTP server (RFC 5321) on loopback for one
// session at a time: EHLO (advertising AUTH PLAIN, no STARTTLS), AUTH
// PLAIN, MAIL, RCPT, DATA, QUIT. It keeps what it was sent.
type smtpServer struct {
	ln       net.Listener
	mu       sync.Mutex
	from     string
	rcpt     []string
	data     string
	auth     string
	password string // the password it accepts; empty accepts none
}

func newSMTPServer(t *testing.T, password string) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln, password: password}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.session(c)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

func (s *smtpServer) session(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	say := func(l string) { fmt.Fprintf(c, "%s\r\n", l) }
	say("220 mx.test ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		s.mu.Lock()
		switch strings.ToUpper(verb) {
		case "EHLO":
			say("250-mx.test")
			say("250-AUTH PLAIN")
			say("250 8BITMIME")
		case "AUTH":
			cred, _ := strings.CutPrefix(arg, "PLAIN ")
			b, _ := base64.StdEncoding.DecodeString(cred)
			s.auth = string(b)
			if parts := strings.Split(string(b), "\x00"); len(parts) == 3 && parts[2] == s.password && s.password != "" {
				say("235 2.7.0 Authentication successful")
			} else {
				say("535 5.7.8 Authentication credentials invalid")
			}
		case "MAIL":
			s.from = arg
			say("250 2.1.0 Ok")
		case "RCPT":
			s.rcpt = append(s.rcpt, arg)
			say("250 2.1.5 Ok")
		case "DATA":
			say("354 End data with <CR><LF>.<CR><LF>")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					s.mu.Unlock()
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			s.data = b.String()
			say("250 2.0.0 Ok: queued")
		case "QUIT":
			say("221 2.0.0 Bye")
			s.mu.Unlock()
			return
		default:
			say("502 5.5.2 Error: command not recognized")
		}
		s.mu.Unlock()
	}
}

func TestEmail(t *testing.T) {
	t.Parallel()
	srv := newSMTPServer(t, "hunter2")
	e := &notify.Email{Addr: srv.ln.Addr().String(), From: "ctem <ctem@example.com>", To: []string{"sec@example.com", "Ops <ops@example.com>"},
		Username: "ctem", Password: "hunter2", Policy: netguard.Policy{AllowPrivate: true}, AllowPlain: true}
	m, _ := notify.Digest(events(), 2, now)
	if err := e.Send(context.Background(), m); err != nil {
		t.Fatalf("Email.Send() = %v", err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.from != "FROM:<ctem@example.com> BODY=8BITMIME" && srv.from != "FROM:<ctem@example.com>" {
		t.Errorf("MAIL %s, want FROM:<ctem@example.com>", srv.from)
	}
	if diff := cmp.Diff(srv.rcpt, []string{"TO:<sec@example.com>", "TO:<ops@example.com>"}); diff != "" {
		t.Errorf("RCPT (-got +want):\n%s", diff)
	}
	if srv.auth != "\x00ctem\x00hunter2" {
		t.Errorf("AUTH PLAIN = %q, want the username and password", srv.auth)
	}
	for _, want := range []string{"Subject: ctem: 2 new validated attack paths", "Content-Type: text/plain; charset=utf-8",
		"- internet -> secrets [click](https://evil.example)\r\n", "and 2 more"} {
		if !strings.Contains(srv.data, want) {
			t.Errorf("message lacks %q:\n%s", want, srv.data)
		}
	}
}

func TestEmailRefusals(t *testing.T) {
	t.Parallel()
	srv := newSMTPServer(t, "right")
	m, _ := notify.Digest(events(), 0, now)
	base := notify.Email{Addr: srv.ln.Addr().String(), From: "ctem@example.com", To: []string{"sec@example.com"}, Policy: netguard.Policy{AllowPrivate: true}}
	for _, tc := range []struct {
		name string
		edit func(*notify.Email)
		is   error
		not  string
	}{
		{"no tls", func(e *notify.Email) {}, notify.ErrNoTLS, ""},
		{"loopback refused by default", func(e *notify.Email) { e.Policy = netguard.Policy{}; e.AllowPlain = true }, netguard.ErrBlocked, ""},
		{"header injection", func(e *notify.Email) { e.AllowPlain = true; e.To = []string{"a@example.com\r\nBcc: x@evil.example"} }, nil, ""},
		{"wrong password", func(e *notify.Email) { e.AllowPlain = true; e.Username, e.Password = "ctem", "wr0ngpass" }, nil, "wr0ngpass"},
	} {
		e := base
		tc.edit(&e)
		err := e.Send(context.Background(), m)
		if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) {
			t.Errorf("%s: Email.Send() = %v, want %v", tc.name, err, tc.is)
		}
		if tc.not != "" && err != nil && strings.Contains(err.Error(), tc.not) {
			t.Errorf("%s: Email.Send() = %v, which repeats the password", tc.name, err)
		}
	}
}
