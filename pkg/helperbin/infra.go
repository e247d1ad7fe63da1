// Package helperbin installs kplay-helper, the small static program that every pod
// runs: the pause process, the log driver the containerd shim starts for each
// container, and the OCI hook that counts starts. It is built from cmd/kplay-helper
// and embedded in kplay (go generate, see mkhelper.go), so `go build ./cmd/kplay`
// alone gives a complete kplay. Prepare writes it where the shims run it and makes
// the pause container's root filesystem.
package helperbin

//go:generate go run mkhelper.go

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
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
// and returns its path. The helper runs as root on the host (log driver, start hook)
// and its name is predictable, so a file already there is used only if it is this
// helper byte for byte, a regular file of ours that nobody else may write; anything
// else (planted, or cut short by a crash) is replaced.
func Install(dir string) (string, error) {
	name, err := Name()
	if err != nil {
		return "", err
	}
	if err := secureDir(dir); err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	if trusted(path) {
		beforeTouch(path)
		// The file's time says when a kplay last took it: cleanup spares recent ones.
		now := time.Now()
		err := os.Chtimes(path, now, now)
		if err == nil {
			return path, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		// Another kplay's cleanup removed it since the check: write it anew.
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
	// Synced before the rename, so a crash cannot leave the name on a short file.
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	// rename is atomic: concurrent kplay processes never see a partial binary, and a
	// file or symlink planted at the name is replaced, not written through.
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", err
	}
	return path, nil
}

// beforeTouch lets a test act between Install's check of a file and its use.
var beforeTouch = func(string) {}

// secureDir makes dir, or tightens it to 0750 and this process's owner (root) if it
// is there with a looser mode, as the pod data roots are: what it holds runs as root.
func secureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Geteuid() {
		if err := os.Chown(dir, os.Geteuid(), -1); err != nil {
			return err
		}
	}
	if st.Mode().Perm() != 0o750 {
		return os.Chmod(dir, 0o750)
	}
	return nil
}

// trusted reports whether path is the embedded helper: a regular file (not a
// symlink), owned by this process's user (root), writable by no one else, with the
// helper's bytes. Comparing the bytes costs a few milliseconds.
func trusted(path string) bool {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o022 != 0 || st.Size() != int64(len(helper)) {
		return false
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); !ok || int(sys.Uid) != os.Geteuid() {
		return false
	}
	have := make([]byte, len(helper)+1)
	n, err := io.ReadFull(f, have)
	return errors.Is(err, io.ErrUnexpectedEOF) && bytes.Equal(have[:n], helper)
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
