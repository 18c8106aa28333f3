package webhook

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/ctem-dev/ctem/internal/netguard"
)

// ErrForbiddenAddress is returned when a delivery would connect to an
// address the guard refuses.
var ErrForbiddenAddress = errors.New("webhook destination address is not allowed")

// ErrNotAllowListed is returned for a destination host the allow-list
// does not name.
var ErrNotAllowListed = errors.New("webhook destination host is not allow-listed")

// Classify returns why ip may not be reached ("loopback", "private" ...),
// or "" when it may: netguard.Classify, the one address classification
// of ctem's outbound requests.
func Classify(ip netip.Addr) string { return netguard.Classify(ip) }

// Guard decides where deliveries may go: hosts on its allow-list, and
// only to public addresses unless AllowPrivate.
type Guard struct {
	// Allow lists the destination hosts: a name or address matches
	// itself, "*.example.com" matches any name below example.com. An
	// empty list allows no destination.
	Allow []string
	// AllowPrivate lets deliveries reach every address class Classify
	// refuses, and plain http: for a receiver on the same host or
	// network, and for tests. Never on by default.
	AllowPrivate bool
}

// CheckURL parses a destination and checks what can be checked before
// connecting: https (http too with AllowPrivate), no user information, a
// host on the allow-list, and no refused address written literally. The
// address a name resolves to is checked when connecting (see Client).
func (g Guard) CheckURL(raw string) (*url.URL, error) {
	u, err := CheckSyntax(raw, g.AllowPrivate)
	if err != nil {
		return nil, err
	}
	if !g.allowed(u.Hostname()) {
		return nil, fmt.Errorf("%s: %w (ctem serve --webhook-allow %s)", u.Hostname(), ErrNotAllowListed, u.Hostname())
	}
	return u, nil
}

// CheckSyntax checks a destination's form: an absolute http(s) URL
// without user information, https unless allowPrivate, and no literal
// address that Classify refuses unless allowPrivate.
func CheckSyntax(raw string, allowPrivate bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("webhook URL: %w", err)
	}
	switch {
	case u.Scheme != "https" && !(allowPrivate && u.Scheme == "http"):
		return nil, fmt.Errorf("webhook URL %q: want https (http only with --allow-private-webhooks)", raw)
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("webhook URL %q: no host", raw)
	case u.User != nil:
		return nil, fmt.Errorf("webhook URL: user information is not allowed in a webhook URL (use --secret)")
	case u.Fragment != "":
		return nil, fmt.Errorf("webhook URL %q: a fragment is not sent", raw)
	}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil && !allowPrivate {
		if why := Classify(ip); why != "" {
			return nil, fmt.Errorf("%s is %s: %w", ip, why, ErrForbiddenAddress)
		}
	}
	return u, nil
}

func (g Guard) allowed(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, a := range g.Allow {
		a = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(a), "."))
		if suffix, ok := strings.CutPrefix(a, "*."); ok {
			if strings.HasSuffix(host, "."+suffix) {
				return true
			}
		} else if a == host {
			return true
		}
	}
	return false
}

// control is the dialer's Control function: it runs after the name was
// resolved, on the very address being connected to, so that a name that
// resolves to a public address when checked and to an internal one when
// used (DNS rebinding) is still refused.
func (g Guard) control(_, address string, _ syscall.RawConn) error {
	if g.AllowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%s: %w", address, ErrForbiddenAddress)
	}
	if why := Classify(ap.Addr()); why != "" {
		return fmt.Errorf("%s is %s: %w", ap.Addr(), why, ErrForbiddenAddress)
	}
	return nil
}

// Client returns the HTTP client deliveries use: its dialer checks every
// address it connects to (control), it uses no proxy (a proxy would
// connect on its behalf, unchecked), follows no redirect (a 3xx is the
// answer, and a failed delivery), and gives up after timeout (0 is 10 s).
func (g Guard) Client(timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	d := &net.Dialer{Timeout: 5 * time.Second, Control: g.control}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: timeout,
		MaxIdleConns:          16,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// DialCheck reports whether the guard lets a connection to address
// ("ip:port") through, as the client's dialer would.
func (g Guard) DialCheck(address string) error {
	return g.control("tcp", address, nil)
}
