package webhook_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/webhook"
)

// TestClassify is the SSRF table: every class of address a webhook must
// not reach, in its IPv4, IPv6, IPv4-mapped and NAT64 forms, and public
// addresses that it may.
func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ip      string
		blocked bool
	}{
		{"127.0.0.1", true},
		{"127.255.255.254", true},
		{"::1", true},
		{"::ffff:127.0.0.1", true},
		{"64:ff9b::7f00:1", true}, // NAT64 of 127.0.0.1
		{"64:ff9b::a00:1", true},  // NAT64 of 10.0.0.1
		{"64:ff9b:1::1", true},    // local-use NAT64
		{"::7f00:1", true},        // IPv4-compatible 127.0.0.1
		{"2002:a00:1::1", true},   // 6to4 of 10.0.0.1
		{"169.254.169.254", true}, // cloud metadata, link-local
		{"::ffff:169.254.169.254", true},
		{"fe80::1", true},
		{"fe80::1%eth0", true},
		{"10.1.2.3", true},
		{"172.16.0.1", true},
		{"172.31.255.255", true},
		{"192.168.1.1", true},
		{"::ffff:192.168.1.1", true},
		{"fd00::1", true},
		{"fc00::1", true},
		{"100.64.0.1", true}, // CGNAT
		{"100.127.255.255", true},
		{"224.0.0.1", true}, // multicast
		{"ff02::1", true},
		{"0.0.0.0", true}, // unspecified
		{"::", true},
		{"::ffff:0.0.0.0", true},
		{"255.255.255.255", true},
		{"240.0.0.1", true},
		{"198.18.0.1", true},
		{"8.8.8.8", false},
		{"1.1.1.1", false},
		{"172.32.0.1", false},
		{"100.128.0.1", false},
		{"192.169.0.1", false},
		{"::ffff:8.8.8.8", false},
		{"64:ff9b::808:808", false}, // NAT64 of 8.8.8.8
		{"2606:4700:4700::1111", false},
		{"2002:808:808::1", false},
	}
	for _, tt := range tests {
		ip := netip.MustParseAddr(tt.ip)
		if got := webhook.Classify(ip); (got != "") != tt.blocked {
			t.Errorf("Classify(%s) = %q, want blocked %v", tt.ip, got, tt.blocked)
		}
		addr := netip.AddrPortFrom(ip.WithZone(""), 443).String()
		if err := (webhook.Guard{}).DialCheck(addr); (err != nil) != tt.blocked || (err != nil && !errors.Is(err, webhook.ErrForbiddenAddress)) {
			t.Errorf("Guard{}.DialCheck(%s) = %v, want blocked %v", addr, err, tt.blocked)
		}
		if err := (webhook.Guard{AllowPrivate: true}).DialCheck(addr); err != nil {
			t.Errorf("Guard{AllowPrivate}.DialCheck(%s) = %v, want nil", addr, err)
		}
	}
}

// TestCheckURL checks destinations before any connection.
func TestCheckURL(t *testing.T) {
	t.Parallel()
	g := webhook.Guard{Allow: []string{"hooks.example.com", "*.corp.example"}}
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://hooks.example.com/ctem", true},
		{"https://HOOKS.example.com./ctem", true},
		{"https://a.b.corp.example/x", true},
		{"https://corp.example/x", false},
		{"https://evil.example.com/x", false},
		{"http://hooks.example.com/ctem", false},
		{"https://user:pw@hooks.example.com/", false},
		{"ftp://hooks.example.com/", false},
		{"https:///nohost", false},
		{"https://127.0.0.1/", false},
		{"https://[::1]/", false},
		{"https://169.254.169.254/latest", false},
	}
	for _, tt := range tests {
		if _, err := g.CheckURL(tt.url); (err == nil) != tt.ok {
			t.Errorf("CheckURL(%q) = %v, want ok %v", tt.url, err, tt.ok)
		}
	}
	if _, err := (webhook.Guard{}).CheckURL("https://hooks.example.com/"); !errors.Is(err, webhook.ErrNotAllowListed) {
		t.Errorf("Guard{}.CheckURL(allowed-nowhere) = %v, want ErrNotAllowListed", err)
	}
	if _, err := (webhook.Guard{Allow: []string{"127.0.0.1"}, AllowPrivate: true}).CheckURL("http://127.0.0.1:8080/x"); err != nil {
		t.Errorf("CheckURL(loopback with AllowPrivate) = %v, want nil", err)
	}
}

// TestSignVerify signs as the server does and verifies as a receiver
// does; a changed body, another secret or a stale timestamp fail.
func TestSignVerify(t *testing.T) {
	t.Parallel()
	secret, body := []byte("s3cret"), []byte(`{"event":"path.opened"}`)
	now := time.Unix(1764750000, 0)
	sig := webhook.Sign(secret, now.Unix(), body)
	if !strings.HasPrefix(sig, "t=1764750000,v1=") || len(sig) != len("t=1764750000,v1=")+64 {
		t.Errorf("Sign() = %q, want t=1764750000,v1= and 64 hex digits", sig)
	}
	if err := webhook.Verify(secret, sig, body, now.Add(time.Minute), 5*time.Minute); err != nil {
		t.Errorf("Verify(own signature) = %v, want nil", err)
	}
	tests := []struct {
		name   string
		secret []byte
		header string
		body   []byte
		now    time.Time
	}{
		{"body changed", secret, sig, []byte(`{"event":"path.closed"}`), now},
		{"other secret", []byte("other"), sig, body, now},
		{"stale", secret, sig, body, now.Add(10 * time.Minute)},
		{"future", secret, sig, body, now.Add(-10 * time.Minute)},
		{"timestamp changed", secret, strings.Replace(sig, "t=1764750000", "t=1764750001", 1), body, now},
		{"no signature", secret, "t=1764750000", body, now},
		{"garbage", secret, "sha256=abc", body, now},
	}
	for _, tt := range tests {
		if err := webhook.Verify(tt.secret, tt.header, tt.body, tt.now, 5*time.Minute); !errors.Is(err, webhook.ErrBadSignature) {
			t.Errorf("Verify(%s) = %v, want ErrBadSignature", tt.name, err)
		}
	}
}

// TestClientRefusesLoopback posts to a real loopback receiver: the
// guarded client refuses to connect, the one allowed private addresses
// delivers, and no redirect is followed.
func TestClientRefusesLoopback(t *testing.T) {
	t.Parallel()
	var hits int
	var got http.Header
	var gotBody []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/final", http.StatusFound)
			return
		}
		got = r.Header.Clone()
		gotBody, _ = io.ReadAll(r.Body)
	}))
	defer srv.Close()
	secret, body := []byte("k"), []byte(`{"id":"d1"}`)
	now := time.Now()
	res, err := webhook.Send(t.Context(), webhook.Guard{}.Client(0), srv.URL+"/hook", secret, webhook.PathOpened, "d1", body, now)
	if !errors.Is(err, webhook.ErrForbiddenAddress) || res.Retry || hits != 0 {
		t.Errorf("Send(loopback, guarded) = %+v, %v, hits %d, want ErrForbiddenAddress, no retry, no hit", res, err, hits)
	}
	// A name is checked by the address it resolves to, when connecting.
	local := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	if _, err := webhook.Send(t.Context(), webhook.Guard{}.Client(0), local+"/hook", secret, webhook.PathOpened, "d1", body, now); !errors.Is(err, webhook.ErrForbiddenAddress) || hits != 0 {
		t.Errorf("Send(localhost, guarded) = %v, hits %d, want ErrForbiddenAddress", err, hits)
	}
	open := webhook.Guard{AllowPrivate: true}.Client(0)
	if res, err := webhook.Send(t.Context(), open, srv.URL+"/hook", secret, webhook.PathOpened, "d1", body, now); err != nil || res.Status != 200 {
		t.Fatalf("Send(loopback, AllowPrivate) = %+v, %v, want 200", res, err)
	}
	if err := webhook.Verify(secret, got.Get(webhook.HeaderSignature), gotBody, time.Now(), time.Minute); err != nil {
		t.Errorf("Verify(received) = %v, want nil", err)
	}
	if diff := cmp.Diff([]string{got.Get(webhook.HeaderEvent), got.Get(webhook.HeaderDelivery), got.Get("Content-Type")}, []string{"path.opened", "d1", "application/json"}); diff != "" {
		t.Errorf("received headers (-got +want):\n%s", diff)
	}
	hits = 0
	res, err = webhook.Send(t.Context(), open, srv.URL+"/redirect", secret, webhook.PathOpened, "d1", body, now)
	if err == nil || res.Status != http.StatusFound || res.Retry || hits != 1 {
		t.Errorf("Send(redirect) = %+v, %v, hits %d, want a failed 302 not followed", res, err, hits)
	}
}

func TestParseEvents(t *testing.T) {
	t.Parallel()
	got, err := webhook.ParseEvents("sla.breach, path.opened,path.opened")
	if err != nil || !cmp.Equal(got, []string{"path.opened", "sla.breach"}) {
		t.Errorf("ParseEvents(...) = %v, %v, want [path.opened sla.breach]", got, err)
	}
	for _, bad := range []string{"", " , ", "path.open", "path.opened,nope"} {
		if _, err := webhook.ParseEvents(bad); err == nil {
			t.Errorf("ParseEvents(%q) = nil error, want one", bad)
		}
	}
}

// FuzzVerify feeds Verify any header and body: it never panics and
// accepts only what Sign made.
func FuzzVerify(f *testing.F) {
	secret := []byte("k")
	f.Add(webhook.Sign(secret, 1764750000, []byte("{}")), []byte("{}"))
	f.Add("t=1,v1=zz,v1=", []byte(""))
	f.Add("t=-5,,=,v1", []byte("x"))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		err := webhook.Verify(secret, header, body, time.Unix(1764750000, 0), time.Hour)
		if err == nil && header != webhook.Sign(secret, 1764750000, body) && !strings.Contains(header, "v1=") {
			t.Errorf("Verify(%q) = nil without a v1 signature", header)
		}
	})
}
