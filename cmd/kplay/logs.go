package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kplay-dev/kplay/pkg/logs"
	"github.com/kplay-dev/kplay/pkg/runtime"
)

type logsOptions struct {
	Container  string
	Namespace  string
	Follow     bool
	Tail       int
	Timestamps bool
	Previous   bool
}

func newLogsCommand(g *globalOptions) *cobra.Command {
	o := &logsOptions{}
	cmd := &cobra.Command{
		Use:   "logs POD [-c CONTAINER]",
		Short: "Print a container's logs",
		Long: `Print a container's logs. Without -c, as with kubectl: the container the pod's
kubectl.kubernetes.io/default-container annotation names, else the first app container
(a note on stderr names the others).`,
		Args: argsUsage(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withRuntime(cmd, g, nil, func(ctx context.Context, rt *runtime.Runtime) error {
				lf, err := rt.Log(ctx, o.Namespace, args[0], o.Container)
				if err != nil {
					return err
				}
				if lf.Note != "" {
					fmt.Fprintln(cmd.ErrOrStderr(), lf.Note)
				}
				path := lf.Path
				if o.Previous {
					path = logs.Previous(path)
				}
				return logs.Read(ctx, path, logs.ReadOptions{
					Follow:     o.Follow && !o.Previous,
					Tail:       o.Tail,
					Timestamps: o.Timestamps,
					Running:    lf.Running,
				}, cmd.OutOrStdout(), nil)
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Container, "container", "c", "", "container name (default: the kubectl.kubernetes.io/default-container annotation, else the first app container)")
	f.StringVarP(&o.Namespace, "namespace", "n", "default", "the pod's namespace")
	f.BoolVarP(&o.Follow, "follow", "f", false, "keep printing new lines until the container exits")
	f.IntVar(&o.Tail, "tail", -1, "print only the last N lines (-1: all)")
	f.BoolVar(&o.Timestamps, "timestamps", false, "prefix each line with its RFC 3339 timestamp")
	f.BoolVarP(&o.Previous, "previous", "p", false, "print the logs of the previous instance after a restart")
	return cmd
}
