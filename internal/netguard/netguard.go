// Package netguard decides where ctem may send a request of its own
// (notifications, webhooks): an allow-list of host names, https only,
// and no private, loopback, link-local or other internal address unless
// explicitly allowed. The address check runs when the connection is
// made, on the address actually dialled, so a name that resolves (or
// re-resolves) to an internal address is refused too (DNS rebinding).
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrBlocked is wrapped by every refusal.
var ErrBlocked = errors.New("destination not allowed")

// Policy says which destinations are allowed. The zero Policy allows any
// public host over https.
type Policy struct {
	// AllowHosts, when not empty, are the only host names allowed:
	// "hooks.slack.com" exactly, or "*.example.com" for any name below
	// example.com (not example.com itself). Compared case-insensitively.
	AllowHosts []string
	// AllowPrivate allows internal addresses (loopback, private,
	// link-local, shared address space, unique local): for a mail relay
	// or a webhook inside the network, and for tests on loopback.
	AllowPrivate bool
	// AllowHTTP allows plain http URLs.
	AllowHTTP bool
}

// translated are the IPv6 prefixes that carry an IPv4 address to a
// translator. Classify refuses them when the address inside is internal;
// a Policy refuses them whole, since the translator's own reach is
// unknown.
var translated = []netip.Prefix{nat64, nat64L, sixToFour}

// Internal reports whether ip is an address ctem does not send to by
// default: whatever Classify names (loopback, private, link-local where
// cloud metadata services listen, multicast, unspecified, broadcast and
// the other special-purpose ranges, IPv4 inside IPv6 judged as itself),
// and any NAT64 or 6to4 address.
func Internal(ip netip.Addr) bool {
	if Classify(ip) != "" {
		return true
	}
	ip = ip.Unmap().WithZone("")
	for _, p := range translated {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// CheckIP returns an error wrapping ErrBlocked when the policy refuses ip.
func (p Policy) CheckIP(ip netip.Addr) error {
	if !p.AllowPrivate && Internal(ip) {
		return fmt.Errorf("address %s is internal (allow private destinations to send there): %w", ip, ErrBlocked)
	}
	return nil
}

// CheckHost returns an error wrapping ErrBlocked when the policy refuses
// host (a name or a literal address, without port).
func (p Policy) CheckHost(host string) error {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "" {
		return fmt.Errorf("no host: %w", ErrBlocked)
	}
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		if err := p.CheckIP(ip); err != nil {
			return err
		}
	} else if !p.AllowPrivate && (host == "localhost" || strings.HasSuffix(host, ".localhost")) {
		return fmt.Errorf("host %s is loopback: %w", host, ErrBlocked)
	}
	if len(p.AllowHosts) == 0 {
		return nil
	}
	for _, a := range p.AllowHosts {
		a = strings.ToLower(strings.TrimSpace(a))
		if suffix, ok := strings.CutPrefix(a, "*."); ok {
			if strings.HasSuffix(host, "."+suffix) {
				return nil
			}
		} else if a == host {
			return nil
		}
	}
	return fmt.Errorf("host %s is not in the allow-list: %w", host, ErrBlocked)
}

// CheckURL parses raw and returns it when the policy allows it: https
// (or http when allowed), no user information, an allowed host. The
// error never repeats the URL, which may carry a secret (a Slack or
// Teams webhook's token is in its path); it names the host only.
func (p Policy) CheckURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("not a URL: %w", ErrBlocked)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && p.AllowHTTP:
	default:
		return nil, fmt.Errorf("scheme %q of a URL to %s: want https: %w", u.Scheme, u.Hostname(), ErrBlocked)
	}
	if u.User != nil {
		return nil, fmt.Errorf("URL to %s carries user information: %w", u.Hostname(), ErrBlocked)
	}
	if err := p.CheckHost(u.Hostname()); err != nil {
		return nil, err
	}
	return u, nil
}

// control checks the address a dialer is about to connect to.
func (p Policy) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("address %q: %w", address, ErrBlocked)
	}
	return p.CheckIP(ap.Addr())
}

// Dialer returns a dialer that refuses, at connect time, every address
// the policy refuses, whatever name led to it.
func (p Policy) Dialer(timeout time.Duration) *net.Dialer {
	return &net.Dialer{Timeout: timeout, Control: p.control}
}

// DialContext dials address (host:port) after checking the host name
// against the policy; the address dialled is checked too.
func (p Policy) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("address %q: %w", address, err)
	}
	if err := p.CheckHost(host); err != nil {
		return nil, err
	}
	return p.Dialer(10*time.Second).DialContext(ctx, network, address)
}

// Client returns an HTTP client that connects only where the policy
// allows, ignores proxy settings from the environment (a proxy would
// hide the destination from the check), and follows no redirect: a
// webhook answers where it is, and a redirect to an internal address is
// the classic way around an allow-list.
func (p Policy) Client(timeout time.Duration) *http.Client {
	tr := &http.Transport{
		DialContext:           p.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
		MaxIdleConns:          4,
		IdleConnTimeout:       30 * time.Second,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
