package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/estate"
	"github.com/ctem-dev/ctem/internal/estate/scope"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// scopeFile returns the scope file to use instead of the stored scope:
// --scope, else $CTEM_SCOPE; else, as a convenience of the command line
// only, ./ctem.yaml when the database holds no scope (with a message
// saying so); else nil (the stored scope, or the default).
func (e *env) scopeFile(ctx context.Context, st app.Store) (*app.ScopeFile, error) {
	path := e.scopePath
	if path == "" {
		path = e.getenv("CTEM_SCOPE")
	}
	if path == "" {
		if _, err := os.Stat("ctem.yaml"); err != nil {
			return nil, nil
		}
		stored, ok, err := st.LatestScope(ctx)
		if err != nil {
			return nil, err
		}
		if ok {
			e.logf("using the scope stored in the database (version %d, %s), not ./ctem.yaml; 'ctem scope set ctem.yaml' stores it", stored.Version, stored.Name)
			return nil, nil
		}
		path = "ctem.yaml"
		e.logf("using ./ctem.yaml from the working directory, a convenience of the command line; 'ctem scope set ctem.yaml' stores it in the database for every analysis")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, usage(fmt.Errorf("scope file %s: no such file", path))
		}
		return nil, usage(fmt.Errorf("scope file: %w", err))
	}
	return &app.ScopeFile{Name: path, Data: data}, nil
}

// codeOwnersFiles reads the file of each --codeowners REPO=FILE.
func (e *env) codeOwnersFiles() ([]app.CodeOwnersFile, error) {
	var out []app.CodeOwnersFile
	for _, spec := range e.codeOwners {
		repo, path, ok := strings.Cut(spec, "=")
		if !ok || repo == "" || path == "" {
			return nil, usage(fmt.Errorf("--codeowners %q: want REPOSITORY=PATH", spec))
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, usage(fmt.Errorf("--codeowners: %w", err))
		}
		out = append(out, app.CodeOwnersFile{Repo: repo, Name: path, Data: data})
	}
	return out, nil
}

func newInitCmd(e *env) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "init [FILE]",
		Short: "Write a commented starter scope file (default ctem.yaml)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "ctem.yaml"
			if len(args) == 1 {
				path = args[0]
			}
			flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
			if force {
				flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
			}
			f, err := os.OpenFile(path, flags, 0o644)
			if err != nil {
				if errors.Is(err, fs.ErrExist) {
					return usage(fmt.Errorf("%s exists (use --force to overwrite)", path))
				}
				return err
			}
			if _, err := f.Write(scope.Starter()); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			e.logf("wrote %s; edit it, then check it with 'ctem scope validate %s'", path, path)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "overwrite an existing file")
	return cmd
}

func newScopeCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "scope", Short: "Work with the scope file (ctem.yaml)"}
	validate := &cobra.Command{
		Use:   "validate [FILE]",
		Short: "Check a scope file; errors name the line and column",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "ctem.yaml"
			if len(args) == 1 {
				path = args[0]
			}
			f, ferr := os.Open(path)
			if ferr != nil {
				return usage(fmt.Errorf("%s: %w", path, ferr))
			}
			defer f.Close()
			sc, err := scope.Parse(path, f)
			if err != nil {
				return usage(err)
			}
			errs := sc.Validate()
			for _, err := range errs {
				fmt.Fprintln(e.stderr, oneLine(err.Error()))
			}
			if len(errs) > 0 {
				return usage(fmt.Errorf("%s: %d problems", path, len(errs)))
			}
			e.logf("%s: ok (%d services, %d crown jewels, %d entry points)", path, len(sc.Services), len(sc.CrownJewels), len(sc.Entries()))
			return nil
		},
	}
	set := &cobra.Command{
		Use:   "set FILE",
		Short: "Store a scope file in the database: every analysis reads it from now on",
		Long: `Set validates a scope file and stores it in the database as a new version
(with its SHA-256 digest), unless it is the version in force already. Every
analysis, by any process, reads the stored scope and records the version it
read; --scope and $CTEM_SCOPE still override it for one command.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return usage(fmt.Errorf("%s: %w", args[0], err))
			}
			if err := checkPolicies(args[0], data); err != nil {
				return err
			}
			st, err := e.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			a := &app.App{Store: st}
			ctx := cliAudit(cmd.Context(), store.AuditScope, "scope.set", func(res any) (string, string) {
				v, _ := res.(store.ScopeVersion)
				return fmt.Sprintf("scope version %d", v.Version), fmt.Sprintf("%s, sha256 %s", v.Name, v.Digest)
			})
			v, changed, err := a.SetScope(ctx, app.ScopeFile{Name: args[0], Data: data})
			if err != nil {
				return err
			}
			if changed {
				e.logf("scope version %d stored (%s, sha256 %s); run 'ctem analyze' to analyse under it", v.Version, v.Name, v.Digest[:12])
			} else {
				e.logf("scope version %d (sha256 %s) is in force already", v.Version, v.Digest[:12])
			}
			return nil
		},
	}
	owners := &cobra.Command{
		Use:   "codeowners REPOSITORY FILE",
		Short: "Store a repository's CODEOWNERS file in the database, for every analysis",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[1])
			if err != nil {
				return usage(fmt.Errorf("%s: %w", args[1], err))
			}
			st, err := e.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			a := &app.App{Store: st}
			ctx := cliAudit(cmd.Context(), store.AuditCodeOwners, "codeowners.set", func(res any) (string, string) {
				v, _ := res.(store.CodeOwnersVersion)
				return fmt.Sprintf("codeowners of %s version %d", v.Repo, v.Version), fmt.Sprintf("%s, sha256 %s", v.Name, v.Digest)
			})
			v, changed, err := a.SetCodeOwners(ctx, app.CodeOwnersFile{Repo: args[0], Name: args[1], Data: data})
			if err != nil {
				return err
			}
			if changed {
				e.logf("CODEOWNERS of %s version %d stored (sha256 %s)", v.Repo, v.Version, v.Digest[:12])
			} else {
				e.logf("CODEOWNERS of %s version %d is in force already", v.Repo, v.Version)
			}
			return nil
		},
	}
	cmd.AddCommand(validate, set, owners)
	return cmd
}

// assetsCmd lists assets annotated by the scope, or shows one.
func newAssetsCmd(e *env) *cobra.Command {
	var ff filterFlags
	cmd := &cobra.Command{
		Use:   "assets",
		Short: "List assets with their owner, service, criticality and exposure",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := ff.filter()
			if err != nil {
				return err
			}
			a, err := e.newApp(cmd.Context())
			if err != nil {
				return err
			}
			defer a.Store.Close()
			es, err := a.Estate(cmd.Context())
			if err != nil {
				return err
			}
			var rows []model.Asset
			for _, a := range es.Sorted() {
				if f.MatchAsset(a) {
					rows = append(rows, a)
				}
			}
			if f.Limit > 0 && len(rows) > f.Limit {
				rows = rows[:f.Limit]
			}
			_, err = writeListing(e.listOut(), ff.output, seqOf(rows), assetColumns)
			return err
		},
	}
	ff.register(cmd, "ak")
	cmd.AddCommand(newAssetShowCmd(e))
	return cmd
}

func newAssetShowCmd(e *env) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "show KEY",
		Short: "Show one asset: its relations, findings, owner, criticality and other names",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, outTable, outJSON); err != nil {
				return err
			}
			ctx := cmd.Context()
			ap, err := e.newApp(ctx)
			if err != nil {
				return err
			}
			st := ap.Store
			defer st.Close()
			es, err := ap.Estate(ctx)
			if err != nil {
				return err
			}
			key := es.Canonical(args[0])
			a, ok := es.Assets[key]
			if !ok {
				return usage(fmt.Errorf("no asset %q (see 'ctem assets')", args[0]))
			}
			keys := append([]string{a.Key}, a.Aliases...)
			var exposures []model.Exposure
			for x, err := range st.Exposures(ctx, store.Filter{Assets: keys}) {
				if err != nil {
					return err
				}
				exposures = append(exposures, x)
			}
			out, in := es.Neighbours(key)
			type rel struct {
				Type    string   `json:"type"`
				Action  string   `json:"action,omitempty"`
				Asset   string   `json:"asset"`
				Sources []string `json:"sources"`
			}
			var outs, ins []rel
			for _, r := range out {
				outs = append(outs, rel{string(r.Type), r.Action, r.To, es.EdgeSources(r)})
			}
			for _, r := range in {
				ins = append(ins, rel{string(r.Type), r.Action, r.From, es.EdgeSources(r)})
			}
			if output == outJSON {
				return writeJSON(e.stdout, struct {
					model.Asset
					Outgoing  []rel            `json:"outgoing"`
					Incoming  []rel            `json:"incoming"`
					Exposures []model.Exposure `json:"exposures"`
				}{*a, nonNil(outs), nonNil(ins), nonNil(exposures)})
			}
			w := e.stdout
			fmt.Fprintf(w, "%s\n", cell(a.Key, 0))
			fmt.Fprintf(w, "  kind:         %s\n", a.Kind)
			fmt.Fprintf(w, "  name:         %s\n", cell(a.Name, 0))
			fmt.Fprintf(w, "  owner:        %s\n", cell(a.Owner, 0))
			fmt.Fprintf(w, "  service:      %s\n", cell(a.Service, 0))
			fmt.Fprintf(w, "  criticality:  %s\n", cell(a.Criticality, 0))
			fmt.Fprintf(w, "  environment:  %s\n", cell(a.Environment, 0))
			jewel := "-"
			if a.CrownJewel != nil {
				jewel = fmt.Sprintf("value %d", *a.CrownJewel)
			}
			fmt.Fprintf(w, "  crown jewel:  %s\n", jewel)
			fmt.Fprintf(w, "  internet:     %v\n", a.InternetExposed)
			if len(a.Aliases) > 0 {
				fmt.Fprintf(w, "  also named:   %s\n", cell(strings.Join(a.Aliases, ", "), 0))
			}
			labels := make([]string, 0, len(a.Labels))
			for k, v := range a.Labels {
				labels = append(labels, k+"="+v)
			}
			sort.Strings(labels)
			if len(labels) > 0 {
				fmt.Fprintf(w, "  labels:       %s\n", cell(strings.Join(labels, ", "), 0))
			}
			fmt.Fprintf(w, "relations out (%d):\n", len(outs))
			for _, r := range outs {
				fmt.Fprintf(w, "  -%s%s-> %s  [%s]\n", r.Type, actionText(r.Action), cell(r.Asset, 0), cell(strings.Join(r.Sources, ", "), 0))
			}
			fmt.Fprintf(w, "relations in (%d):\n", len(ins))
			for _, r := range ins {
				fmt.Fprintf(w, "  <-%s%s- %s  [%s]\n", r.Type, actionText(r.Action), cell(r.Asset, 0), cell(strings.Join(r.Sources, ", "), 0))
			}
			fmt.Fprintf(w, "exposures (%d):\n", len(exposures))
			for _, x := range exposures {
				id := x.RuleID
				if len(x.VulnIDs) > 0 {
					id = x.VulnIDs[0]
				}
				fmt.Fprintf(w, "  %s  %-8s %-7s %s %s  (%s)\n", x.ID, x.Severity, x.Status, cell(id, 30), cell(x.Package.Name, 30), strings.Join(x.Tools, ","))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", outTable, "output format: table or json")
	return cmd
}

func actionText(a string) string {
	if a == "" {
		return ""
	}
	return "(" + cell(a, 40) + ")"
}

func nonNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}

// printEstateSummary prints what the estate holds: its size, what faces
// the internet, and the crown jewels with their owners.
func printEstateSummary(e *env, es *estate.Estate) {
	w := e.stdout
	var exposed, jewels []model.Asset
	kinds := map[model.AssetKind]int{}
	for _, a := range es.Sorted() {
		kinds[a.Kind]++
		if a.InternetExposed {
			exposed = append(exposed, a)
		}
		if a.CrownJewel != nil {
			jewels = append(jewels, a)
		}
	}
	var parts []string
	for _, k := range []model.AssetKind{model.KindWorkload, model.KindImage, model.KindRepository, model.KindIdentity, model.KindSecret, model.KindDatastore, model.KindLoadBalancer, model.KindEndpoint} {
		if kinds[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", kinds[k], k))
		}
	}
	fmt.Fprintf(w, "Estate: %d assets (%s), %d relations, %d connected graph(s).\n", len(es.Keys), strings.Join(parts, ", "), len(es.Relations), es.Components())
	fmt.Fprintf(w, "\nFacing the internet:\n")
	for _, a := range exposed {
		fmt.Fprintf(w, "  %s  (%s, owner %s)\n", cell(a.Key, 0), cell(orDash(a.Service), 0), cell(orDash(a.Owner), 0))
	}
	fmt.Fprintf(w, "\nCrown jewels:\n")
	for _, a := range jewels {
		fmt.Fprintf(w, "  %s  value %d (%s, owner %s)\n", cell(a.Key, 0), *a.CrownJewel, cell(orDash(a.Service), 0), cell(orDash(a.Owner), 0))
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
