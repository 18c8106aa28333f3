package cli

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/ctem-dev/ctem/internal/intel/vex"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

func newVEXCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "vex", Short: "Export what is not affected or accepted as OpenVEX"}
	var author string
	export := &cobra.Command{
		Use:   "export",
		Short: "Write an OpenVEX document of the exposures that are not affected or accepted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, err := e.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			var xs []model.Exposure
			ev := map[string][]model.Evidence{}
			for x, err := range st.Exposures(ctx, store.Filter{Statuses: []model.Status{model.StatusNotAffected, model.StatusAccepted}}) {
				if err != nil {
					return err
				}
				xs = append(xs, x)
			}
			facts, err := store.LoadEvidence(ctx, st)
			if err != nil {
				return err
			}
			for _, x := range xs {
				ev[x.ID] = facts.Match(x)
			}
			return vex.Write(e.stdout, vex.Build(author, time.Now(), xs, ev))
		},
	}
	export.Flags().StringVar(&author, "author", "ctem", "author of the VEX document")
	cmd.AddCommand(export)
	return cmd
}
