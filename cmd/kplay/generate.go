package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kplay-dev/kplay/pkg/systemd"
)

func newGenerateCommand(_ *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Generate files that run kplay pods, such as a systemd unit",
		Args:  argsUsage(cobra.NoArgs),
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var files []string
	var timeout string
	unit := &cobra.Command{
		Use:   "systemd -f FILE...",
		Short: "Print a systemd unit that brings the files' pods up at boot, after containerd",
		Args:  argsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(files) == 0 {
				return usageError{fmt.Errorf("generate systemd needs at least one -f FILE")}
			}
			if _, err := parseDuration(timeout); err != nil {
				return err
			}
			bin, err := os.Executable()
			if err != nil {
				return err
			}
			o := systemd.Options{Binary: bin, Timeout: timeout}
			for _, f := range files {
				if f == "-" {
					return usageError{fmt.Errorf("a unit cannot read standard input: name the files")}
				}
				abs, err := filepath.Abs(f)
				if err != nil {
					return err
				}
				if _, err := os.Stat(abs); err != nil {
					return usageError{err}
				}
				o.Files = append(o.Files, abs)
			}
			// Global flags the user changed apply at boot too.
			cmd.InheritedFlags().Visit(func(f *pflag.Flag) {
				if sv, ok := f.Value.(pflag.SliceValue); ok {
					for _, v := range sv.GetSlice() {
						o.Flags = append(o.Flags, "--"+f.Name+"="+v)
					}
					return
				}
				o.Flags = append(o.Flags, "--"+f.Name+"="+f.Value.String())
			})
			_, err = fmt.Fprint(cmd.OutOrStdout(), systemd.Unit(o))
			return err
		},
	}
	unit.Flags().StringArrayVarP(&files, "filename", "f", nil, "manifest file or directory; may repeat")
	unit.Flags().StringVar(&timeout, "timeout", "5m", "how long the unit's up --wait may take")
	cmd.AddCommand(unit)
	return cmd
}
