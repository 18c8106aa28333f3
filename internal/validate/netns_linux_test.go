//go:build linux

package validate_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/validate"
)

// The network of TestProbeNetns: two namespaces joined by a veth pair.
// The client namespace, where the probes run, holds 10.77.0.1/24 and a
// route to 10.78.0.0/24 through the server namespace, which drops it
// (a blackhole route); it has no route to 10.79.0.0/24. The server
// namespace holds 10.77.0.2 (allowed: a listener on 443, nothing on 444)
// and 10.77.0.3 (outside the allow list: a listener that must never
// see a connection). Nothing answers for 10.77.0.9.
const (
	netnsOpen     = "10.77.0.2:443"
	netnsClosed   = "10.77.0.2:444"
	netnsOutside  = "10.77.0.3:443"
	netnsNoNeigh  = "10.77.0.9:443"
	netnsDropped  = "10.78.0.5:443"
	netnsNoRoute  = "10.79.0.1:443"
	netnsChildEnv = "CTEM_TEST_NETNS_SERVER" // in the child: the server namespace's name
)

// TestProbeNetns runs the probe tests that need addresses of their own
// in network namespaces it creates: it re-executes this test binary in
// the client namespace (netnsChild), so that every thread of the probing
// process routes as that namespace does, and removes the namespaces
// afterwards. Where namespaces cannot be created (not root, no ip
// command) it skips and says why; under CI=true it fails instead.
func TestProbeNetns(t *testing.T) {
	if srv := os.Getenv(netnsChildEnv); srv != "" {
		netnsChild(t, srv)
		return
	}
	t.Parallel()
	cli, srv, err := makeNetns(t)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cannot create the network namespaces the probe tests need (CI must run them as root): %v", err)
		}
		t.Skipf("SKIPPED, NOT PASSED: cannot create network namespaces here (%v); run as root with iproute2 to test probes against namespaced addresses", err)
	}
	cmd := exec.CommandContext(t.Context(), "ip", "netns", "exec", cli, os.Args[0],
		"-test.run=^TestProbeNetns$", "-test.v", "-test.count=1", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), netnsChildEnv+"="+srv)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("probes in namespace %s: %v\n%s", cli, err, out)
	}
	if bytes.Contains(out, []byte("--- SKIP")) || !bytes.Contains(out, []byte("--- PASS: TestProbeNetns")) {
		t.Fatalf("probes in namespace %s did not all run:\n%s", cli, out)
	}
	t.Logf("probes in namespace %s:\n%s", cli, out)
}

// makeNetns creates the client and server namespaces and their link,
// and registers their removal.
func makeNetns(t *testing.T) (cli, srv string, err error) {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		return "", "", err
	}
	b := make([]byte, 4)
	rand.Read(b)
	id := hex.EncodeToString(b)
	cli, srv = "ctem-"+id+"-cli", "ctem-"+id+"-srv"
	vc, vs := "ctc"+id, "cts"+id // at most 15 characters
	ip := func(args ...string) error {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
		}
		return nil
	}
	for _, ns := range []string{cli, srv} {
		if err := ip("netns", "add", ns); err != nil {
			return "", "", err
		}
		t.Cleanup(func() {
			if err := ip("netns", "del", ns); err != nil {
				t.Errorf("remove namespace: %v", err)
			}
		})
	}
	t.Cleanup(func() { exec.Command("ip", "link", "del", vc).Run() }) // left in the root namespace only if a step below failed
	steps := [][]string{
		{"link", "add", vc, "type", "veth", "peer", "name", vs},
		{"link", "set", vc, "netns", cli},
		{"link", "set", vs, "netns", srv},
		{"-n", cli, "link", "set", "lo", "up"},
		{"-n", cli, "link", "set", vc, "up"},
		{"-n", cli, "addr", "add", "10.77.0.1/24", "dev", vc},
		{"-n", cli, "route", "add", "10.78.0.0/24", "via", "10.77.0.2"},
		{"-n", srv, "link", "set", "lo", "up"},
		{"-n", srv, "link", "set", vs, "up"},
		{"-n", srv, "addr", "add", "10.77.0.2/24", "dev", vs},
		{"-n", srv, "addr", "add", "10.77.0.3/24", "dev", vs},
		{"-n", srv, "route", "add", "blackhole", "10.78.0.0/24"},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			return "", "", err
		}
	}
	return cli, srv, nil
}

// netnsListener counts the connections it accepts and when.
type netnsListener struct {
	ln net.Listener
	mu sync.Mutex
	at []time.Time
}

func (l *netnsListener) accepted() []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.at)
}

// waitAccepted waits until n connections were accepted, at most 10 s
// (the accept loop counts after the probe has returned).
func (l *netnsListener) waitAccepted(n int) []time.Time {
	for range 1000 {
		if at := l.accepted(); len(at) >= n {
			return at
		}
		time.Sleep(10 * time.Millisecond)
	}
	return l.accepted()
}

// listenIn listens on addr in the network namespace ns: a socket belongs
// to the namespace of the thread that creates it, so a goroutine locked
// to its thread enters ns, listens, and ends, taking the thread with it
// (it never unlocks, so no other goroutine runs in ns).
func listenIn(t *testing.T, ns, addr string) *netnsListener {
	t.Helper()
	type res struct {
		ln  net.Listener
		err error
	}
	ch := make(chan res, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			ch <- res{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- res{err: fmt.Errorf("setns %s: %w", ns, err)}
			return
		}
		ln, err := net.Listen("tcp", addr)
		ch <- res{ln, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("listen on %s in %s: %v", addr, ns, r.err)
	}
	l := &netnsListener{ln: r.ln}
	go func() {
		for {
			c, err := r.ln.Accept()
			if err != nil {
				return
			}
			l.mu.Lock()
			l.at = append(l.at, time.Now())
			l.mu.Unlock()
			c.Close()
		}
	}()
	t.Cleanup(func() { r.ln.Close() })
	return l
}

// netnsChild is TestProbeNetns in the client namespace.
func netnsChild(t *testing.T, srv string) {
	open := listenIn(t, srv, netnsOpen)
	outside := listenIn(t, srv, netnsOutside)
	allow, err := validate.ParseAllow([]string{"10.77.0.2", "10.77.0.9", "10.78.0.0/24", "10.79.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	if allow.Contains(netip.MustParseAddr("10.77.0.3")) {
		t.Fatal("the allow list holds the outside address; the test shows nothing")
	}
	// The outside listener is reachable: only the allow list keeps the
	// probes away from it. Checked by a plain connection, not counted.
	before := len(outside.accepted())
	if c, err := net.DialTimeout("tcp", netnsOutside, 5*time.Second); err != nil {
		t.Fatalf("the outside listener %s is not reachable from the client namespace (%v); the test shows nothing", netnsOutside, err)
	} else {
		c.Close()
	}
	outside.waitAccepted(before + 1)
	outsideBase := len(outside.accepted())
	defer func() {
		if n := len(outside.accepted()) - outsideBase; n != 0 {
			t.Errorf("the listener outside the allow list (%s) saw %d connections from the probes, want none", netnsOutside, n)
		}
	}()
	opts := func(timeout time.Duration) validate.Options {
		return validate.Options{Allow: allow, Timeout: timeout,
			Resolve: func(_ context.Context, host string) ([]netip.Addr, error) {
				if host == "outside.shop.example.com" {
					return []netip.Addr{netip.MustParseAddr("10.77.0.3")}, nil
				}
				return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
			}}
	}

	// Sequential: these count at the open listener.
	t.Run("open entry validates", func(t *testing.T) {
		a := demo(t)
		before := paths(t, a)
		asset := strings.TrimPrefix(before[0].Entry, "network:")
		n0 := len(open.accepted())
		out, err := validate.Run(t.Context(), a, []validate.Target{{Asset: asset, Address: netnsOpen}}, validate.RunOptions{Options: opts(5 * time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		if r := out.Results[0]; r.State != validate.StateOpen || !r.Contacted {
			t.Fatalf("Run(%s) = %+v, want open", netnsOpen, r)
		}
		if n := len(open.waitAccepted(n0+1)) - n0; n != 1 {
			t.Errorf("Run(%s): the listener saw %d connections, want 1", netnsOpen, n)
		}
		after := through(paths(t, a), asset)
		if len(after) == 0 {
			t.Fatal("no path from the entry after the probe")
		}
		for _, p := range after {
			if !p.Validated || !hasEvidence(p.Steps, model.EvidenceProbeConfirmed) {
				t.Errorf("after an open probe, path %s validated %v, probe-confirmed %v; want both", p.ID, p.Validated, hasEvidence(p.Steps, model.EvidenceProbeConfirmed))
			}
		}
	})
	t.Run("dry run contacts nothing", func(t *testing.T) {
		a := demo(t)
		asset := strings.TrimPrefix(paths(t, a)[0].Entry, "network:")
		n0 := len(open.accepted())
		out, err := validate.Run(t.Context(), a, []validate.Target{
			{Asset: asset, Address: netnsOpen, HTTP: true},
			{Asset: asset, Address: netnsOutside},
			{Asset: asset, Address: net.JoinHostPort("outside.shop.example.com", "443")},
		}, validate.RunOptions{DryRun: true, Options: opts(5 * time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range []string{validate.StateDryRun, validate.StateNotAllowed, validate.StateDryRun} {
			if r := out.Results[i]; r.State != want || r.Contacted {
				t.Errorf("Run(dry, %s) = %+v, want %s and not contacted", r.Target.Address, r, want)
			}
		}
		// A connection would be counted within milliseconds; give it
		// ample time to show.
		time.Sleep(200 * time.Millisecond)
		if n := len(open.accepted()) - n0; n != 0 || out.Recorded != 0 {
			t.Errorf("Run(dry): the listener saw %d connections, %d facts recorded; want none", n, out.Recorded)
		}
	})
	t.Run("rate limit holds at the listener", func(t *testing.T) {
		const n, rate = 6, 20.0
		ts := make([]validate.Target, n)
		for i := range ts {
			ts[i] = validate.Target{Asset: fmt.Sprintf("lb-%d", i), Address: netnsOpen}
		}
		o := opts(5 * time.Second)
		o.Limiter, o.Concurrency = validate.NewLimiter(rate), n
		n0 := len(open.accepted())
		rs, err := validate.Probe(t.Context(), ts, o)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.State != validate.StateOpen {
				t.Fatalf("Probe(%s) = %+v, want open", r.Target.Address, r)
			}
		}
		at := open.waitAccepted(n0 + n)[n0:]
		if len(at) != n {
			t.Fatalf("Probe(%d targets): the listener saw %d connections, want %d", n, len(at), n)
		}
		// Connections start no closer than the limiter lets them: the
		// last comes at least (n-1)/rate after the first, less the first
		// connect's own latency (bounded here by half an interval).
		interval := time.Duration(float64(time.Second) / rate)
		if span, want := at[n-1].Sub(at[0]), time.Duration(n-1)*interval-interval/2; span < want {
			t.Errorf("Probe(%d targets at %v/s): the listener saw them within %v, want at least %v", n, rate, span, want)
		}
	})
	t.Run("outside the allow list", func(t *testing.T) {
		rs, err := validate.Probe(t.Context(), []validate.Target{
			{Asset: "a", Address: netnsOutside, TLS: true, HTTP: true},
			{Asset: "b", Address: net.JoinHostPort("outside.shop.example.com", "443")},
		}, opts(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.State != validate.StateNotAllowed || r.Contacted {
				t.Errorf("Probe(%s) = %+v, want not-allowed and not contacted", r.Target.Address, r)
			}
		}
		time.Sleep(200 * time.Millisecond)
	})
	t.Run("estate targets, allowed addresses only", func(t *testing.T) {
		a := demo(t)
		// The Ingress's load balancer answers at an allowed address and
		// at one outside the allow list.
		const ing = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop, namespace: shop}
spec:
  tls: [{hosts: [shop.example.com]}]
  rules:
  - host: shop.example.com
    http: {paths: [{path: /api, pathType: Prefix, backend: {service: {name: shop-api, port: {number: 80}}}}]}
status: {loadBalancer: {ingress: [{ip: 10.77.0.2}, {ip: 10.77.0.3}]}}
`
		if _, err := a.Ingest(t.Context(), app.IngestRequest{Inputs: []app.Input{{Name: "ingress.yaml", R: strings.NewReader(ing), Target: "prod"}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Analyze(t.Context(), graph.Options{}); err != nil {
			t.Fatal(err)
		}
		ts, err := validate.EstateTargets(t.Context(), a.Store)
		if err != nil {
			t.Fatal(err)
		}
		n0 := len(open.accepted())
		out, err := validate.Run(t.Context(), a, ts, validate.RunOptions{Options: opts(5 * time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, r := range out.Results {
			got[r.Target.Address] = r.State
			if r.Target.Reason == "" || r.Target.Asset != "k8s:prod/shop/Ingress/shop" {
				t.Errorf("Run(estate targets): %+v, want the Ingress's target with a reason", r.Target)
			}
			if strings.HasPrefix(r.Target.Address, "10.77.0.3:") && r.Contacted {
				t.Errorf("Run(estate targets) contacted %s, outside the allow list", r.Target.Address)
			}
		}
		want := map[string]string{
			netnsOpen: validate.StateOpen, "10.77.0.2:80": validate.StateClosed,
			netnsOutside: validate.StateNotAllowed, "10.77.0.3:80": validate.StateNotAllowed,
			"shop.example.com:443": validate.StateUnresolved,
		}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("Run(estate targets) states (-got +want):\n%s", diff)
		}
		if n := len(open.waitAccepted(n0+1)) - n0; n != 1 {
			t.Errorf("Run(estate targets): the allowed listener saw %d connections, want 1", n)
		}
	})
	// Each lowers the paths from the entry; independent demos, in
	// parallel.
	t.Run("lowers", func(t *testing.T) {
		for _, c := range []struct {
			name, addr, want string
		}{
			{"closed port", netnsClosed, validate.StateClosed},
			{"dropped by a namespace", netnsDropped, validate.StateFiltered},
			{"no neighbour answers", netnsNoNeigh, validate.StateFiltered},
			{"no route", netnsNoRoute, validate.StateUnreachable},
		} {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				a := demo(t)
				before := paths(t, a)
				asset := strings.TrimPrefix(before[0].Entry, "network:")
				like := map[string]float64{}
				for _, p := range through(before, asset) {
					like[p.ID] = p.Likelihood
				}
				// A second, shorter than the 3 s the kernel waits for a
				// neighbour: no answer in time is filtered.
				out, err := validate.Run(t.Context(), a, []validate.Target{{Asset: asset, Address: c.addr}}, validate.RunOptions{Options: opts(time.Second)})
				if err != nil {
					t.Fatal(err)
				}
				if r := out.Results[0]; r.State != c.want || !r.Contacted {
					t.Fatalf("Run(%s) = %+v, want %s", c.addr, r, c.want)
				}
				after := through(paths(t, a), asset)
				if len(after) == 0 {
					t.Fatalf("Run(%s): no path left from the entry, want them kept, less likely", c.addr)
				}
				for _, p := range after {
					if was, ok := like[p.ID]; !ok || p.Likelihood >= was || p.Validated || !hasEvidence(p.Steps, model.EvidenceProbeRefuted) {
						t.Errorf("Run(%s): path %s likelihood %.4f (was %.4f, known %v), validated %v, probe-refuted %v; want lower, not validated, refuted",
							c.addr, p.ID, p.Likelihood, was, ok, p.Validated, hasEvidence(p.Steps, model.EvidenceProbeRefuted))
					}
				}
			})
		}
	})
}

// hasEvidence reports whether a step names evidence of kind k.
func hasEvidence(steps []graph.Step, k model.EvidenceKind) bool {
	return slices.ContainsFunc(steps, func(s graph.Step) bool { return slices.Contains(s.Evidence, string(k)) })
}
