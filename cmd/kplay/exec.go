package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/kplay-dev/kplay/pkg/runtime"
)

func newExecCommand(g *globalOptions) *cobra.Command {
	var container, namespace string
	var stdin, tty bool
	cmd := &cobra.Command{
		Use:   "exec POD [-c CONTAINER] [-i] [-t] -- COMMAND [ARGS...]",
		Short: "Run a command in a running container",
		Long: `Run a command in a running container, as the container's own process runs: with its
user, environment and working directory. kplay exits with the command's exit code.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			dash := cmd.ArgsLenAtDash()
			if len(args) < 2 || dash != 1 {
				return usageError{fmt.Errorf("usage: kplay exec POD [-c CONTAINER] -- COMMAND [ARGS...]")}
			}
			return withRuntime(cmd, g, nil, func(ctx context.Context, rt *runtime.Runtime) error {
				var in io.Reader
				if stdin {
					in = cmd.InOrStdin()
				}
				code, err := rt.Exec(ctx, runtime.ExecOptions{
					Namespace: namespace, Pod: args[0], Container: container, Args: args[1:],
					Stdin: in, Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr(), TTY: tty,
				})
				if err != nil {
					return err
				}
				if code != 0 {
					return exitError{code}
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&container, "container", "c", "", "container name, also of a running init container (optional when the pod has one app container)")
	f.StringVarP(&namespace, "namespace", "n", "default", "the pod's namespace")
	f.BoolVarP(&stdin, "stdin", "i", false, "pass standard input to the command")
	f.BoolVarP(&tty, "tty", "t", false, "give the command a terminal")
	return cmd
}
