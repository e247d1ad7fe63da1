package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/log"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/kplay-dev/kplay/pkg/logs"
	"github.com/kplay-dev/kplay/pkg/network"
	"github.com/kplay-dev/kplay/pkg/node"
	"github.com/kplay-dev/kplay/pkg/podstate"
	"github.com/kplay-dev/kplay/pkg/runtime"
)

// connect opens the runtime with the global flags.
func connect(ctx context.Context, g *globalOptions, progress io.Writer) (*runtime.Runtime, error) {
	if g.Debug {
		log.L.Logger.SetLevel(logrus.DebugLevel)
	} else {
		log.L.Logger.SetLevel(logrus.WarnLevel)
	}
	rotation, err := logRotation(g)
	if err != nil {
		return nil, err
	}
	tty := false
	if f, ok := progress.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	return runtime.New(ctx, runtime.Config{
		Address:    g.Address,
		Namespace:  g.Namespace,
		RunRoot:    g.RunRoot,
		DataRoot:   g.DataRoot,
		HostsDir:   g.HostsDir,
		InfraImage: g.InfraImage,
		HostIP:     node.HostIP(),
		Network: network.Config{
			PluginDirs: g.CNIPath,
			Subnet:     g.Subnet,
			Bridge:     g.Bridge,
			Dirs:       podstate.Layout{RunRoot: g.RunRoot}.Network(),
		},
		LogRotation:    rotation,
		Progress:       progress,
		TTY:            tty,
		Warn:           func(s string) { fmt.Fprintln(os.Stderr, "Warning:", s) },
		SeccompDefault: g.SeccompDefault,
		// A debug switch, not a flag: see "Cost of a pod" in docs/design.md.
		CountCalls: os.Getenv("KPLAY_COUNT_CALLS"),
	})
}

// logRotation reads --log-max-size and --log-max-files.
func logRotation(g *globalOptions) (logs.Rotation, error) {
	q, err := resource.ParseQuantity(g.LogMaxSize)
	if err != nil {
		return logs.Rotation{}, usageError{fmt.Errorf("invalid --log-max-size %q: use a quantity such as 10Mi or 500Ki", g.LogMaxSize)}
	}
	r := logs.Rotation{MaxSize: q.Value(), MaxFiles: g.LogMaxFiles}
	if err := r.Validate(); err != nil {
		return logs.Rotation{}, usageError{fmt.Errorf("invalid --log-max-size or --log-max-files: %w", err)}
	}
	return r, nil
}

// withRuntime connects with the global flags, runs fn and closes the connection.
func withRuntime(cmd *cobra.Command, g *globalOptions, progress io.Writer, fn func(context.Context, *runtime.Runtime) error) error {
	ctx := cmd.Context()
	rt, err := connect(ctx, g, progress)
	if err != nil {
		return err
	}
	defer rt.Close()
	return fn(ctx, rt)
}

// parseDuration reads a kubectl-style duration; a bare number means seconds.
func parseDuration(s string) (time.Duration, error) {
	bad := usageError{fmt.Errorf("invalid duration %q: use e.g. 30s, 2m or a number of seconds", s)}
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		if n < 0 || math.IsNaN(n) || n > math.MaxInt64/float64(time.Second) {
			return 0, bad
		}
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, bad
	}
	return d, nil
}

// printResults writes one line per pod and returns the first error.
func printResults(w io.Writer, results []runtime.PodResult) error {
	var errs []string
	for _, r := range results {
		fmt.Fprintf(w, "pod/%s %s\n", podName(r.Namespace, r.Name), r.Action)
		if r.Err != nil {
			errs = append(errs, r.Err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}

// printObjectResults writes one line per object that is not a pod, as kubectl apply
// and delete do: "secret/db created".
func printObjectResults(w io.Writer, results []runtime.ObjectResult) {
	for _, r := range results {
		fmt.Fprintf(w, "%s/%s %s\n", r.Kind, podName(r.Namespace, r.Name), r.Action)
	}
}

// podName shows a pod as kubectl does: no namespace for "default".
func podName(ns, name string) string {
	if ns == "default" || ns == "" {
		return name
	}
	return ns + "/" + name
}
