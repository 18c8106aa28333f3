package netguard_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/internal/netguard"
)

func TestInternal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ip   string
		want bool
	}{
		{"127.0.0.1", true},
		{"10.1.2.3", true},
		{"172.16.0.1", true},
		{"192.168.1.1", true},
		{"169.254.169.254", true}, // cloud metadata
		{"100.64.0.1", true},
		{"0.0.0.0", true},
		{"224.0.0.1", true},
		{"255.255.255.255", true},
		{"::1", true},
		{"fd00::1", true},
		{"fe80::1", true},
		{"::ffff:127.0.0.1", true}, // IPv4-mapped loopback
		{"64:ff9b::7f00:1", true},  // NAT64 of 127.0.0.1
		{"2002:7f00:1::", true},    // 6to4 of 127.0.0.1
		{"8.8.8.8", false},
		{"151.101.1.1", false},
		{"2606:4700::1111", false},
	} {
		if got := netguard.Internal(netip.MustParseAddr(tc.ip)); got != tc.want {
			t.Errorf("Internal(%s) = %v, want %v", tc.ip, got, tc.want)
		}
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	slack := netguard.Policy{AllowHosts: []string{"hooks.slack.com", "*.webhook.office.com"}}
	for _, tc := range []struct {
		name string
		p    netguard.Policy
		url  string
		ok   bool
	}{
		{"allowed host", slack, "https://hooks.slack.com/services/T0/B0/secret", true},
		{"wildcard below", slack, "https://acme.webhook.office.com/webhookb2/x", true},
		{"wildcard not itself", slack, "https://webhook.office.com/x", false},
		{"case", slack, "https://HOOKS.slack.com./x", true},
		{"not listed", slack, "https://evil.example/x", false},
		{"suffix trick", slack, "https://hooks.slack.com.evil.example/x", false},
		{"plain http", slack, "http://hooks.slack.com/x", false},
		{"plain http allowed", netguard.Policy{AllowHTTP: true}, "http://example.com/x", true},
		{"file scheme", netguard.Policy{}, "file:///etc/passwd", false},
		{"userinfo", netguard.Policy{}, "https://user:pw@example.com/", false},
		{"loopback literal", netguard.Policy{}, "https://127.0.0.1/x", false},
		{"metadata literal", netguard.Policy{}, "https://169.254.169.254/latest", false},
		{"ipv6 loopback", netguard.Policy{}, "https://[::1]:8443/x", false},
		{"localhost", netguard.Policy{}, "https://localhost/x", false},
		{"private allowed", netguard.Policy{AllowPrivate: true}, "https://10.0.0.5/x", true},
		{"any public host", netguard.Policy{}, "https://example.com/x", true},
	} {
		_, err := tc.p.CheckURL(tc.url)
		if (err == nil) != tc.ok {
			t.Errorf("%s: CheckURL(%q) = %v, want ok %v", tc.name, tc.url, err, tc.ok)
		}
		if err != nil && !errors.Is(err, netguard.ErrBlocked) {
			t.Errorf("%s: CheckURL(%q) = %v, want ErrBlocked", tc.name, tc.url, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: CheckURL error %q repeats the URL's path", tc.name, err)
		}
	}
}

// TestClientRefusesAtDial checks that the address is checked when the
// connection is made: a name that resolves to loopback ("localhost.",
// here through the port of a real loopback server) is refused, and the
// same server is reached when private destinations are allowed.
func TestClientRefusesAtDial(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/target", http.StatusFound)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	ctx := context.Background()

	// The dialer's own check, whatever the name: a host name the
	// allow-list permits still cannot reach loopback.
	d := netguard.Policy{}.Dialer(time.Second)
	if _, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", port)); !errors.Is(err, netguard.ErrBlocked) {
		t.Errorf("Dialer().DialContext(127.0.0.1) = %v, want ErrBlocked", err)
	}
	c := netguard.Policy{AllowHTTP: true}.Client(5 * time.Second)
	if _, err := c.Get(srv.URL); !errors.Is(err, netguard.ErrBlocked) {
		t.Errorf("Client().Get(loopback) = %v, want ErrBlocked", err)
	}
	c = netguard.Policy{AllowHTTP: true, AllowPrivate: true}.Client(5 * time.Second)
	resp, err := c.Get(srv.URL + "/redirect")
	if err != nil {
		t.Fatalf("Client(private allowed).Get = %v, want the loopback server", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Errorf("Client().Get(redirect) status = %d, want 302 (redirects are not followed)", resp.StatusCode)
	}
}
