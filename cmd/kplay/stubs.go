package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/kplay-dev/kplay/pkg/plan"
)

// errNoRuntime is returned by commands whose runtime has not landed yet.
var errNoRuntime = errors.New("this command needs the containerd runtime, which is not built yet")

func runUp(_ *cobra.Command, _ *globalOptions, _ *upOptions, _ *plan.Plan) error {
	return errNoRuntime
}

func newDownCommand(_ *globalOptions) *cobra.Command {
	return &cobra.Command{Use: "down", Short: "Remove pods", RunE: func(*cobra.Command, []string) error { return errNoRuntime }}
}

func newPsCommand(_ *globalOptions) *cobra.Command {
	return &cobra.Command{Use: "ps", Short: "List pods", RunE: func(*cobra.Command, []string) error { return errNoRuntime }}
}

func newLogsCommand(_ *globalOptions) *cobra.Command {
	return &cobra.Command{Use: "logs POD", Short: "Print a container's logs", RunE: func(*cobra.Command, []string) error { return errNoRuntime }}
}

func newExecCommand(_ *globalOptions) *cobra.Command {
	return &cobra.Command{Use: "exec POD -- CMD", Short: "Run a command in a container", RunE: func(*cobra.Command, []string) error { return errNoRuntime }}
}

func newImageCommand(_ *globalOptions) *cobra.Command {
	return &cobra.Command{Use: "image", Short: "Manage images", RunE: func(*cobra.Command, []string) error { return errNoRuntime }}
}
