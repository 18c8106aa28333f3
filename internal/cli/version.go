package cli

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// buildInfo is what the binary says of itself: the module version, the
// commit and its time, whether the tree was modified, and the Go version.
type buildInfo struct {
	Module    string `json:"module"`
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	Time      string `json:"commit_time,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"go_version"`
}

// readBuildInfo reads the build information the Go toolchain embeds
// (runtime/debug.ReadBuildInfo); Version, set by -ldflags, wins over
// the module version when the module has none ("(devel)").
func readBuildInfo() buildInfo {
	b := buildInfo{Module: "github.com/ctem-dev/ctem", Version: Version}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	b.GoVersion = bi.GoVersion
	if bi.Main.Path != "" {
		b.Module = bi.Main.Path
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" && Version == "dev" {
		b.Version = v
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Commit = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// versionLine is the one line of 'ctem version' and 'ctem --version'.
func versionLine() string {
	b := readBuildInfo()
	s := b.Version
	if b.Commit != "" {
		s += " commit " + b.Commit
		if b.Modified {
			s += " (modified)"
		}
		if b.Time != "" {
			s += " of " + b.Time
		}
	}
	if b.GoVersion != "" {
		s += " built with " + b.GoVersion
	}
	return s
}

func newVersionCmd(e *env) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print ctem's version, commit and Go version (from the build information)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := checkOutput(output, outTable, outJSON); err != nil {
				return err
			}
			b := readBuildInfo()
			if output == outJSON {
				return writeJSON(e.stdout, b)
			}
			fmt.Fprintf(e.stdout, "%s %s\n", b.Module, versionLine())
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", outTable, "output format: table (one line) or json")
	return cmd
}
