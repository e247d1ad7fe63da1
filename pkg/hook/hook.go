// Package hook counts container starts with an OCI poststart hook that runs the kplay
// binary. containerd 1.6's restart monitor keeps no restart count, and a hook costs no
// resident process: runc runs it once per start and it exits at once.
package hook

import (
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Arg marks an invocation of the kplay binary as the start-counting hook.
const Arg = "--kplay-count-start"

// Poststart is the hook that appends one byte to file each time the container starts.
func Poststart(binary, file string) specs.Hook {
	timeout := 5
	return specs.Hook{Path: binary, Args: []string{binary, Arg, file}, Timeout: &timeout}
}

// Invocation reports whether args are a hook invocation, and the counter file.
func Invocation(args []string) (string, bool) {
	if len(args) == 3 && args[1] == Arg {
		return args[2], true
	}
	return "", false
}

// Run records one start. runc passes the container state on stdin; it is not needed,
// but it is drained so runc never blocks writing it.
func Run(file string) int {
	io.Copy(io.Discard, os.Stdin)
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return 1
	}
	defer f.Close()
	if _, err := f.Write([]byte{'.'}); err != nil {
		return 1
	}
	return 0
}

// Restarts is how often the container was started again after its first start.
func Restarts(file string) int32 {
	fi, err := os.Stat(file)
	if err != nil || fi.Size() == 0 {
		return 0
	}
	return int32(fi.Size() - 1)
}
