package netguard_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/netguard"
)

// FuzzCheckURL checks that CheckURL never panics and that whatever it
// allows is https, carries no user information, and names no internal
// literal address, nor a host outside the allow-list.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{
		"https://hooks.slack.com/services/T0/B0/x", "http://hooks.slack.com/x", "https://127.0.0.1/", "https://[::ffff:127.0.0.1]/",
		"https://169.254.169.254/latest", "https://user@hooks.slack.com/", "https://HOOKS.SLACK.COM./x", "https://hooks.slack.com.evil/",
		"https://0x7f.1/", "https://2130706433/", "https://[fe80::1%25eth0]/", "https://acme.webhook.office.com/x", "file:///etc/passwd", "%",
	} {
		f.Add(s)
	}
	p := netguard.Policy{AllowHosts: []string{"hooks.slack.com", "*.webhook.office.com"}}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := p.CheckURL(raw)
		if err != nil {
			if strings.Contains(err.Error(), raw) && len(raw) > 20 {
				t.Errorf("CheckURL(%q) error repeats the URL: %v", raw, err)
			}
			return
		}
		if u.Scheme != "https" || u.User != nil {
			t.Errorf("CheckURL(%q) allowed scheme %q user %v", raw, u.Scheme, u.User)
		}
		host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
		if ip, err := netip.ParseAddr(host); err == nil && netguard.Internal(ip) {
			t.Errorf("CheckURL(%q) allowed internal %s", raw, ip)
		}
		if host != "hooks.slack.com" && !strings.HasSuffix(host, ".webhook.office.com") {
			t.Errorf("CheckURL(%q) allowed host %q outside the allow-list", raw, host)
		}
	})
}
