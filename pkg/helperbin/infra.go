// Package helperbin installs kplay-helper, the small static program that every pod
// runs: the pause process, the log driver the containerd shim starts for each
// container, and the OCI hook that counts starts. It is built from cmd/kplay-helper
// and embedded in kplay (go generate, see mkhelper.go), so `go build ./cmd/kplay`
// alone gives a complete kplay. Prepare writes it where the shims run it and makes
// the pause container's root filesystem.
package helperbin

//go:generate go run mkhelper.go

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kplay-dev/kplay/pkg/pause"
)

// Infra is what the runtime needs to run the pause container without an image.
type Infra struct {
	// Binary is the installed kplay-helper. The runtime also uses it for the log
	// driver and OCI hooks: containers outlive this process, and each kplay version
	// installs its own helper beside the others.
	Binary string
	// Rootfs is an almost empty directory; mount it read-only.
	Rootfs string
	// Args is the pause container's process args.
	Args []string
	// Mounts bind the helper to /pause, read-only. It is static: no loader or
	// shared library is mounted.
	Mounts []specs.Mount
}

// Prepare installs the helper in binDir and makes the pause rootfs at rootfs. It is
// idempotent and costs a few stat calls once done.
func Prepare(binDir, rootfs string) (Infra, error) {
	binary, err := Install(binDir)
	if err != nil {
		return Infra{}, fmt.Errorf("installing kplay-helper: %w", err)
	}
	infra := Infra{
		Binary: binary,
		Rootfs: rootfs,
		Args:   []string{"/" + pause.Name},
		Mounts: []specs.Mount{{
			Destination: "/" + pause.Name,
			Type:        "bind",
			Source:      binary,
			Options:     []string{"rbind", "ro", "nosuid", "nodev"},
		}},
	}
	if err := makeRootfs(infra.Rootfs, "/"+pause.Name); err != nil {
		return Infra{}, fmt.Errorf("making the pause rootfs: %w", err)
	}
	return infra, nil
}

// Name is the file name of the embedded helper once installed: derived from its
// content, so kplay versions with the same helper share one file, a different
// helper gets its own, and running containers keep the one they started with.
func Name() (string, error) {
	if len(helper) == 0 {
		return "", errors.New("this kplay has no kplay-helper for " + runtime.GOARCH + " (see pkg/helperbin/mkhelper.go)")
	}
	sum := sha256.Sum256(helper)
	return "kplay-helper-" + hex.EncodeToString(sum[:8]), nil
}

// Install writes the embedded helper to dir, mode 0755, unless it is there already,
// and returns its path.
func Install(dir string) (string, error) {
	name, err := Name()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	if have, err := os.Stat(path); err == nil && have.Size() == int64(len(helper)) {
		// The file's time says when a kplay last took it: cleanup spares recent ones.
		now := time.Now()
		os.Chtimes(path, now, now)
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, ".kplay-helper-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(helper); err != nil {
		tmp.Close()
		return "", fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	// rename is atomic: concurrent kplay processes never see a partial binary.
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", err
	}
	return path, nil
}

// makeRootfs creates the rootfs with the mount points the runtime needs, so runc has
// nothing to create in it and it can be shared read-only by every pod. Mount points an
// older kplay made for its shared libraries stay: its pods may still be restarted.
func makeRootfs(rootfs string, files ...string) error {
	for _, dir := range []string{"proc", "dev", "sys", "etc", "run"} {
		if err := os.MkdirAll(filepath.Join(rootfs, dir), 0o755); err != nil {
			return err
		}
	}
	for _, name := range files {
		path := filepath.Join(rootfs, name)
		if _, err := os.Lstat(path); err == nil {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o755)
		if err != nil {
			return err
		}
		f.Close()
	}
	return nil
}
