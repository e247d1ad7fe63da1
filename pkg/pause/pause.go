// Package pause is kplay's own infra container process: PID 1 of each pod, holding the
// pod's namespaces and answering its DNS, run by kplay-helper from a rootfs that
// package helperbin makes, so a pod needs no image download.
package pause

import (
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"

	"golang.org/x/sys/unix"
)

// Name is the basename of argv[0] that makes kplay-helper act as the pause process.
const Name = "pause"

// Invoked reports whether the process was started as the pause process.
func Invoked(args []string) bool {
	return len(args) > 0 && filepath.Base(args[0]) == Name
}

// Run is the pause process: PID 1 of the pod. It reaps children that get reparented to
// it (shareProcessNamespace), exits 0 on SIGTERM or SIGINT and otherwise sleeps. With
// DNSFlag it also answers the pod's DNS queries (see serveDNS).
func Run(args []string) int {
	// Little allocates after start-up; a small heap target keeps the RSS low.
	debug.SetGCPercent(10)
	if path := dnsPath(args); path != "" {
		serveDNS(path)
	}
	signals := make(chan os.Signal, 16)
	signal.Notify(signals, unix.SIGCHLD, unix.SIGTERM, unix.SIGINT)
	for s := range signals {
		if s != unix.SIGCHLD {
			return 0
		}
		reap()
	}
	return 0
}

// reap collects every exited child; one SIGCHLD may stand for several exits.
func reap() {
	for {
		var status unix.WaitStatus
		pid, err := unix.Wait4(-1, &status, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
	}
}
