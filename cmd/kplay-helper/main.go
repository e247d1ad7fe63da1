// Command kplay-helper is what kplay runs in and beside every container: the pause
// process (PID 1 of each pod, started as /pause), the log driver the containerd shim
// starts for each container (a binary:// log URI) and the OCI poststart hook that
// counts starts. Each running pod keeps at least two copies of it resident, so it is
// static and links only the packages it runs: no Kubernetes types, no containerd
// client, no command-line framework. kplay embeds it; see package helperbin.
package main

import (
	"fmt"
	"os"

	"github.com/kplay-dev/kplay/pkg/hook"
	"github.com/kplay-dev/kplay/pkg/logs"
	"github.com/kplay-dev/kplay/pkg/pause"
)

func main() {
	args := os.Args
	if pause.Invoked(args) {
		os.Exit(pause.Run(args[1:]))
	}
	if file, ok := hook.Invocation(args); ok {
		os.Exit(hook.Run(file))
	}
	if d, ok := logs.DriverInvocation(args); ok {
		os.Exit(logs.RunDriver(d))
	}
	fmt.Fprintf(os.Stderr, "kplay-helper: started by kplay's pods only, as %s, a log driver (%s) or a start hook (%s)\n", "/"+pause.Name, logs.DriverArg, hook.Arg)
	os.Exit(2)
}
