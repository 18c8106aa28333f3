package cli

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/validate"
	"github.com/ctem-dev/ctem/internal/validate/observe"
)

func newValidateCmd(e *env) *cobra.Command {
	var (
		dryRun, dast, noEst bool
		rate                float64
		timeout, maxAge     time.Duration
		concurrency         int
		allowFlags, targets []string
		output, running     string
		falco               string
	)
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Safe probes of the entry side of attack paths (TCP connect, TLS handshake, one HTTP HEAD), recorded as evidence",
		Long: `Validate checks that the entries of the open attack paths answer. For each
target (the scope file's validation.targets, and --target) whose asset starts an
open path, it connects over TCP to the target's address, then when asked makes a
TLS handshake (version, certificate subject, expiry) and sends one HTTP HEAD
request (status, Server banner, redirect target; no redirect is followed, no
body is read). Nothing else is ever sent.

Besides those targets, the estate's endpoints of its internet-exposed assets
are targets (unless --no-estate-targets): Ingress TLS and rule hosts and their
load balancer's address, LoadBalancer services' status addresses on their
ports, AWS load balancers' DNS names on their listeners, instances' public
addresses and Elastic IPs on the ports their security groups open, and the
net.endpoints label an inventory sets. --dry-run lists each with its asset and
the reason it is a target.

Only addresses in the allow list (the scope's validation.allow, and --allow: IP
addresses or CIDR prefixes) are contacted: a host name is resolved and only its
allowed addresses are dialled. Nothing is allowed by default. Probes are paced
(--rate per second), at most --concurrency at a time, each within --timeout.
--dry-run lists what would be contacted and contacts nothing (no DNS either).

An open entry records probe-confirmed evidence on the exposures its paths
reach over the network, which validates those steps; a closed, filtered (no
answer in time) or unreachable (no route) one records probe-refuted, which
lowers them (explain shows it). Each run replaces the previous run's evidence
on those exposures; evidence older than --max-age expires. The analysis is re-run on what changed.

--running FILE reads the live cluster's pods (kubectl get pods -A -o json) and
records, on the open exposures on images, image-running when a running
container runs the image (by reference or digest), or image-not-running when a
workload of the estate in a namespace the listing covers names the image but
nothing runs it, which lowers its steps. It contacts nothing.

--falco FILE reads Falco's JSON alerts (json_output: true). An alert in a
container of image I, in namespace N, is about the estate's workloads that run
I in N: a shell (mitre_execution, T1059) or a write below /etc, /root or a
binary directory shows code execution on them; a sensitive file read shows
the step from there to the secrets they read, a contact with the API server
the step to their service account, a privileged or sensitive mount container
the step to their node. Steps that rest on exposures get runtime-exec
evidence, which validates them; configuration steps are listed as observed.
It contacts nothing.

--dast, instead of probing, ties the DAST and network-scanner hits already
ingested (Nuclei, ZAP) to the workloads that serve the URL they were made at:
its host and port name an entry (a target's address, or an endpoint of the
estate), and for an Ingress the rule for its host and path names the Service
and the workloads it selects. On the paths from the entry, the step on those
workloads whose exposure names the same vulnerability is confirmed
(dast-confirmed evidence, which validates it). A hit at an address nothing
serves, or that no rule routes, confirms nothing and is listed as a loose URL.
It contacts nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, outTable, outJSON); err != nil {
				return err
			}
			if rate <= 0 || concurrency < 1 || timeout <= 0 {
				return usage(fmt.Errorf("--rate, --concurrency and --timeout must be positive"))
			}
			ctx := cmd.Context()
			a, err := e.newApp(ctx)
			if err != nil {
				return err
			}
			defer a.Store.Close()
			sc, err := a.ScopeInForce(ctx)
			if err != nil {
				return err
			}
			allow, err := validate.ParseAllow(append(append([]string{}, sc.Validation.Allow...), allowFlags...))
			if err != nil {
				return usage(err)
			}
			var ts []validate.Target
			for _, t := range sc.Validation.Targets {
				ts = append(ts, validate.Target{Asset: t.Asset, Address: t.Address, TLS: t.TLS, HTTP: t.HTTP, Reason: "the scope's validation.targets"})
			}
			for _, f := range targets {
				t, err := parseTarget(f)
				if err != nil {
					return usage(err)
				}
				t.Reason = "--target"
				ts = append(ts, t)
			}
			if err := validate.CheckTargets(ts); err != nil {
				return usage(err)
			}
			if falco != "" {
				if err := e.recordFalco(cmd, a, falco, output); err != nil {
					return err
				}
				if len(ts) == 0 && running == "" {
					return nil
				}
			}
			if running != "" {
				if err := e.recordRunning(cmd, a, running, output); err != nil {
					return err
				}
				if len(ts) == 0 {
					return nil
				}
			}
			if dast {
				out, err := validate.ConfirmDAST(ctx, a, ts)
				if err != nil {
					return err
				}
				if output == outJSON {
					return writeJSON(e.stdout, out)
				}
				fmt.Fprintf(e.stdout, "%d exposures on attack paths confirmed by DAST hits at the entries that serve them; %d facts recorded, %d earlier ones replaced.\n",
					len(out.Confirmed), out.Recorded, out.Removed)
				for _, l := range out.Loose {
					fmt.Fprintf(e.stdout, "  %s (%s): %s\n", cell(l.URL, 100), l.Exposure, l.Reason)
				}
				return nil
			}
			// The estate's endpoints join the probes (the DAST matching
			// above reads them itself).
			if !noEst {
				est, err := validate.EstateTargets(ctx, a.Store)
				if err != nil {
					return err
				}
				ts = validate.MergeTargets(ts, est)
			}
			if len(ts) == 0 {
				return usage(fmt.Errorf("no target: the estate names no endpoint of an internet-exposed asset; list them under validation.targets in the scope file, or pass --target ASSET=HOST:PORT"))
			}
			if len(allow) == 0 {
				e.warnf("nothing is allowed (validation.allow in the scope file, or --allow): no target will be contacted")
			}
			out, err := validate.Run(ctx, a, ts, validate.RunOptions{DryRun: dryRun, MaxAge: maxAge, Options: validate.Options{
				Allow: allow, Limiter: validate.NewLimiter(rate), Concurrency: concurrency, Timeout: timeout}})
			if err != nil {
				return err
			}
			if output == outJSON {
				return writeJSON(e.stdout, out)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ASSET\tADDRESS\tSTATE\tEXPOSURES\tDETAIL\tREASON\t")
			for _, r := range out.Results {
				addr := r.Target.Address
				if r.Addr.IsValid() {
					addr += " (" + r.Addr.String() + ")"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t\n", cell(r.Target.Asset, 60), cell(addr, 50), r.State, len(out.Exposures[r.Target.Asset]), cell(r.Detail, 100), cell(r.Target.Reason, 100))
			}
			tw.Flush()
			if dryRun {
				fmt.Fprintln(e.stdout, "\nDry run: nothing was contacted or recorded.")
				return nil
			}
			fmt.Fprintf(e.stdout, "\n%d facts recorded, %d earlier ones replaced or expired.", out.Recorded, out.Removed)
			if r := out.Reanalysis; r != nil {
				v := 0
				for _, p := range r.Run.Result.Paths {
					if p.Validated {
						v++
					}
				}
				fmt.Fprintf(e.stdout, " Re-analysed: %d attack paths there, %d validated.", len(r.Run.Result.Paths), v)
			}
			fmt.Fprintln(e.stdout)
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "list what would be contacted; contact and record nothing")
	cmd.Flags().BoolVar(&noEst, "no-estate-targets", false, "probe only the scope's and --target's targets, not the endpoints the estate names")
	cmd.Flags().BoolVar(&dast, "dast", false, "instead of probing, tie the ingested DAST hits at the targets' addresses to the workloads behind them")
	cmd.Flags().Float64Var(&rate, "rate", validate.DefaultRate, "probes started per second, at most")
	cmd.Flags().IntVar(&concurrency, "concurrency", validate.DefaultConcurrency, "probes in flight, at most")
	cmd.Flags().DurationVar(&timeout, "timeout", validate.DefaultTimeout, "time allowed to each probe")
	cmd.Flags().DurationVar(&maxAge, "max-age", validate.DefaultMaxAge, "probe evidence older than this expires")
	cmd.Flags().StringArrayVar(&allowFlags, "allow", nil, "also allow this IP address or CIDR prefix (repeatable)")
	cmd.Flags().StringArrayVar(&targets, "target", nil, "also probe ASSET=HOST:PORT[,tls][,http] (repeatable)")
	cmd.Flags().StringVar(&falco, "falco", "", "also read Falco's JSON alerts from this file")
	cmd.Flags().StringVar(&running, "running", "", "also read the cluster's running pods from this file (kubectl get pods -A -o json)")
	cmd.Flags().StringVarP(&output, "output", "o", outTable, "output format: table or json")
	return cmd
}

// recordFalco reads Falco alerts and records what they show.
func (e *env) recordFalco(cmd *cobra.Command, a *app.App, file, output string) error {
	f, err := os.Open(file)
	if err != nil {
		return usage(fmt.Errorf("read falco alerts: %w", err))
	}
	defer f.Close()
	al, err := observe.ParseFalco(file, f)
	if err != nil {
		return usage(err)
	}
	out, err := validate.RecordFalco(cmd.Context(), a, al)
	if err != nil {
		return err
	}
	if output == outJSON {
		return writeJSON(e.stdout, out)
	}
	fmt.Fprintf(e.stdout, "%d Falco alerts (%d outside containers or of no mapped technique): %d exposures on attack paths confirmed, %d configuration steps observed; %d facts recorded, %d earlier ones replaced.\n",
		len(al), out.Ignored, len(out.Confirmed), len(out.Observed), out.Recorded, out.Removed)
	return nil
}

// recordRunning reads a pod listing and records what runs.
func (e *env) recordRunning(cmd *cobra.Command, a *app.App, file, output string) error {
	f, err := os.Open(file)
	if err != nil {
		return usage(fmt.Errorf("read pods: %w", err))
	}
	defer f.Close()
	rs, err := observe.ParsePods(file, f)
	if err != nil {
		return usage(err)
	}
	out, err := validate.RecordRunning(cmd.Context(), a, rs)
	if err != nil {
		return err
	}
	if output == outJSON {
		return writeJSON(e.stdout, out)
	}
	fmt.Fprintf(e.stdout, "%d running containers: %d exposures on images that run, %d on images the estate names but nothing runs; %d facts recorded, %d earlier ones replaced.\n",
		len(rs), len(out.Running), len(out.NotRunning), out.Recorded, out.Removed)
	return nil
}

// parseTarget reads ASSET=HOST:PORT[,tls][,http].
func parseTarget(s string) (validate.Target, error) {
	asset, rest, ok := strings.Cut(s, "=")
	if !ok || asset == "" || rest == "" {
		return validate.Target{}, fmt.Errorf("--target %q: want ASSET=HOST:PORT[,tls][,http]", s)
	}
	parts := strings.Split(rest, ",")
	t := validate.Target{Asset: asset, Address: parts[0]}
	for _, p := range parts[1:] {
		switch p {
		case "tls":
			t.TLS = true
		case "http":
			t.HTTP = true
		default:
			return t, fmt.Errorf("--target %q: unknown option %q (want tls or http)", s, p)
		}
	}
	return t, nil
}
