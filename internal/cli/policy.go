package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/estate/scope"
	"github.com/ctem-dev/ctem/internal/policy"
)

// newPolicyCmd builds `ctem policy`: the scope file's policies as code.
func newPolicyCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Policies as code: CEL rules over paths, exposures and assets in the scope file",
		Long: `Policies are rules in the scope file, each a CEL expression over an attack path
(path, and asset: its crown jewel) or an exposure (exposure, and asset: its own), with
an action: fail, warn, ticket or notify. For example:

  policies:
    - name: validated-path-to-valuable-jewel
      on: path
      action: fail
      expr: path.validated && path.target.value >= 9
    - name: kev-on-internet
      on: exposure
      action: warn
      expr: exposure.kev && asset.internet_exposed

'ctem gate' fails a change that makes a fail policy match something it introduced;
'ctem tickets sync' opens a ticket per match of a ticket policy (and closes it when the
policy no longer matches); 'ctem notify' tells each match of a notify policy once.`,
	}
	cmd.AddCommand(newPolicyTestCmd(e))
	return cmd
}

func newPolicyTestCmd(e *env) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "test",
		Short: "Evaluate the policies on the current data and explain each match; exit 1 when a fail policy matches",
		Long: `Test compiles the scope's policies (an invalid expression is an error naming its line
and column in the scope file) and evaluates them on every open attack path and open
exposure, printing each match with the values the expression read. It exits 1 when a
policy whose action is fail matches.`,
		Args: wrapArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, outTable, outJSON); err != nil {
				return err
			}
			ctx := cmd.Context()
			a, err := e.newApp(ctx)
			if err != nil {
				return err
			}
			defer a.Store.Close()
			r, err := policy.Test(ctx, a)
			if err != nil {
				return err
			}
			for _, m := range r.Errors {
				e.warnf("%s", m)
			}
			if output == outJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(r); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(e.stdout, "%d policies on %d paths and %d exposures: %d matches\n", r.Policies, r.Paths, r.Exposure, len(r.Matches))
				for _, m := range r.Matches {
					fmt.Fprintf(e.stdout, "%-6s %s  %s %s\n", m.Action, sanitize(m.Policy), m.On, m.Subject)
					if len(m.Because) > 0 {
						fmt.Fprintf(e.stdout, "       because %s\n", sanitize(strings.Join(m.Because, ", ")))
					}
				}
			}
			if n := len(r.Failed()); n > 0 {
				return fmt.Errorf("%d matches of fail policies: %w", n, ErrGateFailed)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", outTable, "output format: table or json")
	return cmd
}

// checkPolicies compiles the policies of a scope file, so that a scope
// with an invalid expression is refused with its position before it is
// stored. A file that does not parse is left to the scope's own checks.
func checkPolicies(name string, data []byte) error {
	sc, err := scope.Parse(name, bytes.NewReader(data))
	if err != nil {
		return nil
	}
	if _, err := policy.Compile(sc); err != nil {
		return &app.BadInputError{Err: err}
	}
	return nil
}
