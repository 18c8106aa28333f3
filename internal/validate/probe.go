// Package validate gathers evidence that an attack path's entry is real
// with safe, active probes: a TCP connect, a TLS handshake and one HTTP
// HEAD request to the address in front of an entry asset, only to
// addresses the user allowed, rate-limited and bounded in concurrency and
// time. The results become evidence on the exposures the entry leads to:
// an open entry confirms their steps, a closed or filtered one lowers them.
package validate

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults of Options.
const (
	DefaultRate        = 5 // probes per second
	DefaultConcurrency = 4
	DefaultTimeout     = 5 * time.Second
	// maxHeader bounds what is read of an HTTP response: its status line
	// and headers, never its body.
	maxHeader = 64 << 10
	// userAgent names ctem in every HTTP request.
	userAgent = "ctem-validate (safe probe; https://github.com/ctem-dev/ctem)"
)

// Target is the address in front of an entry asset and what to ask it.
type Target struct {
	// Asset is the entry asset's key.
	Asset string `json:"asset"`
	// Address is host:port; the host is a name or an IP address.
	Address string `json:"address"`
	TLS     bool   `json:"tls,omitempty"`
	HTTP    bool   `json:"http,omitempty"`
	// Reason says where the target comes from: the scope, the command
	// line, or the estate's endpoint of the asset.
	Reason string `json:"reason,omitempty"`
}

// Allow is the set of addresses probes may contact.
type Allow []netip.Prefix

// ParseAllow reads IP addresses and CIDR prefixes.
func ParseAllow(ss []string) (Allow, error) {
	var out Allow
	for _, s := range ss {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("allow %q: not an IP address or CIDR prefix", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// Contains reports whether a is allowed.
func (al Allow) Contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range al {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Limiter paces probes: Wait returns when the next may start.
type Limiter interface {
	Wait(ctx context.Context) error
}

// rateLimiter lets one probe start every interval, the first at once.
type rateLimiter struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
}

// NewLimiter returns a Limiter of rate probes per second.
func NewLimiter(rate float64) Limiter {
	return &rateLimiter{interval: time.Duration(float64(time.Second) / rate)}
}

func (l *rateLimiter) Wait(ctx context.Context) error {
	l.mu.Lock()
	now := time.Now()
	at := l.next
	if at.Before(now) {
		at = now
	}
	l.next = at.Add(l.interval)
	l.mu.Unlock()
	if d := time.Until(at); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Options bound the probes.
type Options struct {
	// Allow is what may be contacted; an address outside it never is.
	Allow Allow
	// Limiter paces the probes; nil means DefaultRate per second.
	Limiter Limiter
	// Concurrency bounds the probes in flight; 0 means the default.
	Concurrency int
	// Timeout bounds each probe (connect, handshake and request); 0
	// means the default.
	Timeout time.Duration
	// Resolve looks a host name up; nil means the system resolver.
	Resolve func(ctx context.Context, host string) ([]netip.Addr, error)
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Result is what one probe found.
type Result struct {
	Target Target `json:"target"`
	// Addr is the address contacted, or that would be.
	Addr netip.AddrPort `json:"addr,omitzero"`
	// Contacted is false when nothing was sent: the address is not
	// allowed, the name did not resolve, or a dry run.
	Contacted bool `json:"contacted"`
	// Open reports a completed TCP connect.
	Open bool `json:"open"`
	// State is "open", "closed" (refused), "filtered" (no answer in
	// time), "unreachable" (no route to it), "not-allowed",
	// "unresolved", "dry-run" or "error".
	State string `json:"state"`
	// Detail says what the probe saw, in words.
	Detail string    `json:"detail,omitempty"`
	TLS    *TLSInfo  `json:"tls,omitempty"`
	HTTP   *HTTPInfo `json:"http,omitempty"`
	At     time.Time `json:"at"`
}

// TLSInfo is what a TLS handshake showed.
type TLSInfo struct {
	Version  string    `json:"version"`
	Subject  string    `json:"subject,omitempty"`
	Issuer   string    `json:"issuer,omitempty"`
	NotAfter time.Time `json:"not_after,omitzero"`
	Error    string    `json:"error,omitempty"`
}

// HTTPInfo is what one HTTP HEAD request showed. No redirect is followed
// and no body is read.
type HTTPInfo struct {
	Status   int    `json:"status"`
	Server   string `json:"server,omitempty"`
	Location string `json:"location,omitempty"`
	Error    string `json:"error,omitempty"`
}

// States of a Result.
const (
	StateOpen     = "open"
	StateClosed   = "closed"
	StateFiltered = "filtered"
	// StateUnreachable is a connect that failed at once because no
	// route leads to the address (network or host unreachable): the
	// entry does not answer from where the probe runs.
	StateUnreachable = "unreachable"
	StateNotAllowed  = "not-allowed"
	StateUnresolved  = "unresolved"
	StateDryRun      = "dry-run"
	StateError       = "error"
)

// Resolved returns the addresses of t's host that opt allows (an IP
// literal is its own address), and the others; dry says not to resolve
// names (a dry run contacts nothing, not even a resolver), in which case
// a name gives neither.
func resolved(ctx context.Context, t Target, opt *Options, dry bool) (allowed, refused []netip.AddrPort, err error) {
	host, portS, err := net.SplitHostPort(t.Address)
	if err != nil {
		return nil, nil, fmt.Errorf("target %s: address %q: %w", t.Asset, t.Address, err)
	}
	port, err := strconv.ParseUint(portS, 10, 16)
	if err != nil || port == 0 {
		return nil, nil, fmt.Errorf("target %s: address %q: bad port", t.Asset, t.Address)
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a.Unmap()}
	} else if dry {
		return nil, nil, nil
	} else if addrs, err = opt.Resolve(ctx, host); err != nil {
		return nil, nil, err
	}
	for _, a := range addrs {
		ap := netip.AddrPortFrom(a.Unmap(), uint16(port))
		if opt.Allow.Contains(a) {
			allowed = append(allowed, ap)
		} else {
			refused = append(refused, ap)
		}
	}
	return allowed, refused, nil
}

// CheckTargets returns an error naming the first target whose address is
// malformed.
func CheckTargets(ts []Target) error {
	for _, t := range ts {
		if _, _, err := resolved(context.Background(), t, &Options{}, true); err != nil {
			return err
		}
	}
	return nil
}

func (opt *Options) defaults() {
	if opt.Limiter == nil {
		opt.Limiter = NewLimiter(DefaultRate)
	}
	if opt.Concurrency <= 0 {
		opt.Concurrency = DefaultConcurrency
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	if opt.Resolve == nil {
		opt.Resolve = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
}

// DryRun returns what Probe would contact, contacting nothing: for an IP
// literal its address and whether it is allowed; a host name is listed
// unresolved.
func DryRun(ts []Target, opt Options) ([]Result, error) {
	opt.defaults()
	var out []Result
	for _, t := range ts {
		ok, no, err := resolved(context.Background(), t, &opt, true)
		if err != nil {
			return nil, err
		}
		switch {
		case len(ok) > 0:
			out = append(out, Result{Target: t, Addr: ok[0], State: StateDryRun, Detail: "would connect" + what(t)})
		case len(no) > 0:
			out = append(out, Result{Target: t, Addr: no[0], State: StateNotAllowed, Detail: "not in the allow list: never contacted"})
		default:
			out = append(out, Result{Target: t, State: StateDryRun, Detail: "would resolve the name, then connect" + what(t) + " to its allowed addresses only"})
		}
	}
	return out, nil
}

func what(t Target) string {
	s := " (TCP"
	if t.TLS {
		s += ", TLS handshake"
	}
	if t.HTTP {
		s += ", one HTTP HEAD"
	}
	return s + ")"
}

// Probe probes each target: at its first allowed address, a TCP connect,
// then when asked a TLS handshake and one HTTP HEAD request. Targets with
// no allowed address are not contacted. Probes start no faster than the
// limiter allows, at most opt.Concurrency at a time. It returns the
// results in target order.
func Probe(ctx context.Context, ts []Target, opt Options) ([]Result, error) {
	opt.defaults()
	if err := CheckTargets(ts); err != nil {
		return nil, err
	}
	out := make([]Result, len(ts))
	sem := make(chan struct{}, opt.Concurrency)
	var wg sync.WaitGroup
	for i, t := range ts {
		out[i] = Result{Target: t}
		ok, no, err := resolved(ctx, t, &opt, false)
		switch {
		case err != nil:
			out[i].State, out[i].Detail, out[i].At = StateUnresolved, err.Error(), opt.Now().UTC()
			continue
		case len(ok) == 0:
			out[i].State, out[i].At = StateNotAllowed, opt.Now().UTC()
			out[i].Detail = "no address in the allow list: never contacted"
			if len(no) > 0 {
				out[i].Addr = no[0]
			}
			continue
		}
		if err := opt.Limiter.Wait(ctx); err != nil {
			return nil, err
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		wg.Go(func() {
			defer func() { <-sem }()
			out[i] = probeOne(ctx, t, ok[0], &opt)
		})
	}
	wg.Wait()
	return out, nil
}

// probeOne probes one allowed address.
func probeOne(ctx context.Context, t Target, ap netip.AddrPort, opt *Options) Result {
	r := Result{Target: t, Addr: ap, Contacted: true, At: opt.Now().UTC()}
	ctx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", ap.String())
	if err != nil {
		r.State, r.Detail = connState(err), fmt.Sprintf("tcp %s: %v", ap, errText(err))
		return r
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	r.Open, r.State = true, StateOpen
	parts := []string{"tcp " + ap.String() + " open"}
	host, _, _ := net.SplitHostPort(t.Address)
	var c net.Conn = conn
	if t.TLS {
		cfg := &tls.Config{
			// The probe observes what the entry presents; it trusts
			// nothing it receives and sends no secret.
			InsecureSkipVerify: true, //nolint:gosec // observation only
			MinVersion:         tls.VersionTLS10,
		}
		if _, err := netip.ParseAddr(host); err != nil {
			cfg.ServerName = host
		}
		tc := tls.Client(conn, cfg)
		info := &TLSInfo{}
		if err := tc.HandshakeContext(ctx); err != nil {
			info.Error = errText(err)
			parts = append(parts, "tls handshake failed: "+info.Error)
		} else {
			st := tc.ConnectionState()
			info.Version = tls.VersionName(st.Version)
			if len(st.PeerCertificates) > 0 {
				cert := st.PeerCertificates[0]
				info.Subject, info.Issuer, info.NotAfter = cert.Subject.String(), cert.Issuer.String(), cert.NotAfter.UTC()
			}
			parts = append(parts, fmt.Sprintf("%s, certificate %q expires %s", info.Version, info.Subject, info.NotAfter.Format(time.DateOnly)))
			c = tc
		}
		r.TLS = info
	}
	if t.HTTP && (r.TLS == nil || r.TLS.Error == "") {
		r.HTTP = head(c, host, t.TLS)
		if r.HTTP.Error != "" {
			parts = append(parts, "http: "+r.HTTP.Error)
		} else {
			s := fmt.Sprintf("http HEAD %d", r.HTTP.Status)
			if r.HTTP.Server != "" {
				s += ", server " + strconv.Quote(r.HTTP.Server)
			}
			if r.HTTP.Location != "" {
				s += ", redirects to " + strconv.Quote(r.HTTP.Location) + " (not followed)"
			}
			parts = append(parts, s)
		}
	}
	r.Detail = strings.Join(parts, "; ")
	return r
}

// head sends one HEAD / request on c and reads the status line and
// headers, at most maxHeader bytes; it reads no body and follows nothing.
func head(c net.Conn, host string, secure bool) *HTTPInfo {
	scheme := "http"
	if secure {
		scheme = "https"
	}
	req, err := http.NewRequest(http.MethodHead, scheme+"://"+host+"/", nil)
	if err != nil {
		return &HTTPInfo{Error: errText(err)}
	}
	req.Header.Set("User-Agent", userAgent)
	req.Close = true
	if err := req.Write(c); err != nil {
		return &HTTPInfo{Error: errText(err)}
	}
	resp, err := http.ReadResponse(bufio.NewReader(io.LimitReader(c, maxHeader)), req)
	if err != nil {
		return &HTTPInfo{Error: errText(err)}
	}
	resp.Body.Close()
	return &HTTPInfo{Status: resp.StatusCode, Server: clip(resp.Header.Get("Server"), 200), Location: clip(resp.Header.Get("Location"), 500)}
}

// connState names why a connect failed: refused is closed, a timeout is
// filtered, no route to the network or host is unreachable.
func connState(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, errRefused()):
		return StateClosed
	case isUnreachable(err):
		return StateUnreachable
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return StateFiltered
	}
	return StateError
}

func errText(err error) string {
	return clip(err.Error(), 300)
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
