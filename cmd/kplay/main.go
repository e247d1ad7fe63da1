// Command kplay runs Kubernetes YAML on one Linux machine, driving containerd directly.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/containerd/errdefs"
)

// exitError carries an exit code other than the default mapping, e.g. the exit
// code of a command run by `kplay exec`.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// usageError marks bad flags or arguments: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func main() {
	// Ctrl-C cancels the command's context; up then rolls back what it created.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCommand().ExecuteContext(ctx)
	stop()
	os.Exit(exitCode(err))
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintln(os.Stderr, "Error:", err)
	var ue usageError
	if errors.As(err, &ue) || errdefs.IsInvalidArgument(err) || strings.HasPrefix(err.Error(), "unknown command") {
		return 2
	}
	return 1
}
