package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/kplay-dev/kplay/pkg/runtime"
)

func newImageCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Load, list and remove images",
		Args:  argsUsage(cobra.NoArgs),
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var input string
	load := &cobra.Command{
		Use:   "load -i FILE",
		Short: "Load images from a docker-save or OCI archive (- for stdin)",
		Args:  argsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if input == "" {
				return usageError{fmt.Errorf("image load needs -i FILE (or -i - for stdin)")}
			}
			var in io.Reader = cmd.InOrStdin()
			if input != "-" {
				f, err := os.Open(input)
				if err != nil {
					return usageError{err}
				}
				defer f.Close()
				in = f
			}
			return withRuntime(cmd, g, cmd.ErrOrStderr(), func(ctx context.Context, rt *runtime.Runtime) error {
				names, err := rt.LoadImages(ctx, in)
				if err != nil {
					return fmt.Errorf("loading %s: %w", input, err)
				}
				for _, n := range names {
					fmt.Fprintln(cmd.OutOrStdout(), "Loaded image:", n)
				}
				return nil
			})
		},
	}
	load.Flags().StringVarP(&input, "input", "i", "", "archive to read, - for stdin")

	ls := &cobra.Command{
		Use:   "ls",
		Short: "List images",
		Args:  argsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withRuntime(cmd, g, nil, func(ctx context.Context, rt *runtime.Runtime) error {
				infos, err := rt.Images(ctx)
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 3, 0, 3, ' ', 0)
				fmt.Fprintln(w, "IMAGE\tDIGEST\tSIZE\tCREATED")
				for _, i := range infos {
					digest := i.Digest
					if len(digest) > 19 {
						digest = digest[:19]
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s ago\n", i.Name, digest,
						humanSize(i.Size), duration.HumanDuration(time.Since(i.Created)))
				}
				return w.Flush()
			})
		},
	}
	rm := &cobra.Command{
		Use:   "rm IMAGE...",
		Short: "Remove images",
		Args:  argsUsage(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withRuntime(cmd, g, nil, func(ctx context.Context, rt *runtime.Runtime) error {
				return rt.RemoveImages(ctx, args)
			})
		},
	}
	cmd.AddCommand(load, ls, rm)
	return cmd
}

// humanSize shows a size as docker and podman do: 1.1MB, 23.4kB.
func humanSize(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	f, u := float64(n), 0
	for f >= 1000 && u < len(units)-1 {
		f /= 1000
		u++
	}
	if u == 0 {
		return fmt.Sprintf("%dB", n)
	}
	return fmt.Sprintf("%.1f%s", f, units[u])
}
