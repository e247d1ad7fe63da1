package main

import (
	"os"

	"github.com/kplay-dev/kplay/pkg/hook"
	"github.com/kplay-dev/kplay/pkg/logs"
	"github.com/kplay-dev/kplay/pkg/pause"
)

// internal runs the processes kplay starts from its own binary (the pause infra
// process, the log driver the shim starts, OCI hooks) before any command parsing.
// It reports whether it handled the invocation; the processes it runs exit here.
func internal(args []string) bool {
	if pause.Invoked(args) {
		os.Exit(pause.Run(args[1:]))
	}
	if file, ok := hook.Invocation(args); ok {
		os.Exit(hook.Run(file))
	}
	if d, ok := logs.DriverInvocation(args); ok {
		os.Exit(logs.RunDriver(d))
	}
	return false
}
