//go:build ignore

// mkhelper builds cmd/kplay-helper for every architecture kplay embeds it for, into
// the directory given by -o (default: this one). The settings make the bytes depend
// on the sources, the module's requirements and the Go toolchain only, so building
// again gives the same file: `go generate` runs it here and the package's test runs
// it into a temporary directory and compares.
package main

import (
	"flag"
	"log"
	"os"
	"os/exec"
	"path/filepath"
)

// archs are the architectures kplay embeds a helper for; keep them in step with the
// helper_<arch>.go files.
var archs = []string{"amd64", "arm64"}

func main() {
	out := flag.String("o", ".", "directory to write kplay-helper-linux-<arch> to")
	flag.Parse()
	for _, arch := range archs {
		cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w",
			"-o", filepath.Join(*out, "kplay-helper-linux-"+arch), "github.com/kplay-dev/kplay/cmd/kplay-helper")
		// Pin what the environment could otherwise change: a static binary (no cgo),
		// the baseline instruction set, no extra go flags.
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch,
			"GOAMD64=v1", "GOARM64=v8.0", "GOFLAGS=", "GOEXPERIMENT=")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			log.Fatalf("building kplay-helper for %s: %v", arch, err)
		}
	}
}
