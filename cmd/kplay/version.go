package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set with -ldflags "-X main.version=..." by make; go build falls back
// to the module version recorded in the binary.
var version = ""

func kplayVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

func newVersionCommand(_ *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print kplay's version",
		Args:  argsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "kplay", kplayVersion())
			return err
		},
	}
}
