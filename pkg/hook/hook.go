// Package hook counts container starts with an OCI poststart hook that runs
// kplay-helper. containerd 1.6's restart monitor keeps no restart count and no start time,
// and a hook costs no resident process: runc runs it once per start and it exits at once.
package hook

import (
	"io"
	"os"
	"strconv"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Arg marks an invocation of kplay-helper as the start-counting hook.
const Arg = "--kplay-count-start"

// Poststart is the hook that appends one record to file each time the container starts.
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

// Run records one start: its time in Unix nanoseconds and a newline, in one append, so
// a record is written whole. runc passes the container state on stdin; it is not
// needed, but it is drained so runc never blocks writing it.
func Run(file string) int {
	io.Copy(io.Discard, os.Stdin)
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return 1
	}
	defer f.Close()
	if _, err := f.Write(append(strconv.AppendInt(nil, time.Now().UnixNano(), 10), '\n')); err != nil {
		return 1
	}
	return 0
}

// Starts lists the container's starts in order, each with its time. The pods of an
// older kplay run that kplay's hook, which wrote one '.' per start: such a start has
// the zero time.
func Starts(file string) []time.Time {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	var starts []time.Time
	for len(b) > 0 {
		if b[0] == '.' {
			starts = append(starts, time.Time{})
			b = b[1:]
			continue
		}
		n := 0
		for n < len(b) && b[n] != '\n' && b[n] != '.' {
			n++
		}
		var t time.Time
		if ns, err := strconv.ParseInt(string(b[:n]), 10, 64); err == nil {
			t = time.Unix(0, ns)
		}
		if n > 0 {
			starts = append(starts, t)
		}
		if n < len(b) && b[n] == '\n' {
			n++
		}
		b = b[n:]
	}
	return starts
}

// Restarts is how often the container was started again after its first start.
func Restarts(starts []time.Time) int32 {
	if len(starts) == 0 {
		return 0
	}
	return int32(len(starts) - 1)
}
