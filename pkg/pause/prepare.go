package pause

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Infra is what the runtime needs to run the pause container without an image.
type Infra struct {
	// Binary is a stable copy of the running kplay executable. The runtime also
	// uses it for the log driver and OCI hooks: containers outlive this process
	// and the original binary may be moved or rebuilt.
	Binary string
	// Rootfs is an almost empty directory; mount it read-only.
	Rootfs string
	// Args is the pause container's process args.
	Args []string
	// Mounts bind the binary to /pause and, for a dynamically linked binary, its
	// loader and shared libraries, all read-only.
	Mounts []specs.Mount
}

// Prepare makes the stable binary copy in binDir and the pause rootfs at rootfs. It
// is idempotent and costs a few stat calls once done.
func Prepare(binDir, rootfs string) (Infra, error) {
	exe, err := os.Executable()
	if err != nil {
		return Infra{}, fmt.Errorf("preparing pause container: finding kplay's executable: %w", err)
	}
	binary, err := stableCopy(exe, binDir)
	if err != nil {
		return Infra{}, fmt.Errorf("preparing pause container: %w", err)
	}
	libs, err := sharedObjects(binary)
	if err != nil {
		return Infra{}, fmt.Errorf("preparing pause container: %w", err)
	}
	infra := Infra{
		Binary: binary,
		Rootfs: rootfs,
		Args:   []string{"/" + Name},
		Mounts: []specs.Mount{readOnlyBind(binary, "/"+Name)},
	}
	mountpoints := []string{"/" + Name}
	for _, lib := range libs {
		infra.Mounts = append(infra.Mounts, readOnlyBind(lib, lib))
		mountpoints = append(mountpoints, lib)
	}
	if err := makeRootfs(infra.Rootfs, mountpoints); err != nil {
		return Infra{}, fmt.Errorf("preparing pause container: %w", err)
	}
	return infra, nil
}

func readOnlyBind(source, destination string) specs.Mount {
	return specs.Mount{
		Destination: destination,
		Type:        "bind",
		Source:      source,
		Options:     []string{"rbind", "ro", "nosuid", "nodev"},
	}
}

// stableCopy copies exe into dir under a name derived from its size and mtime, so
// a rebuilt kplay gets a new copy and running containers keep the old one.
func stableCopy(exe, dir string) (string, error) {
	st, err := os.Stat(exe)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, fmt.Sprintf("kplay-%d-%x", st.Size(), st.ModTime().UnixNano()))
	if have, err := os.Stat(path); err == nil && have.Size() == st.Size() {
		// The copy's time says when a kplay last took it: cleanup spares recent ones.
		now := time.Now()
		os.Chtimes(path, now, now)
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	src, err := os.Open(exe)
	if err != nil {
		return "", err
	}
	defer src.Close()
	tmp, err := os.CreateTemp(dir, ".kplay-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, src); err != nil {
		tmp.Close()
		return "", fmt.Errorf("copying %s: %w", exe, err)
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

// libraryDirs are searched for DT_NEEDED libraries, after the loader's own directory.
// They are also where the loader looks when there is no ld.so.cache, so a library
// bound at the same path inside the container is found there.
var libraryDirs = []string{
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
	"/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
	"/lib64", "/usr/lib64", "/lib", "/usr/lib",
}

// sharedObjects lists the program interpreter and every shared library a dynamically
// linked binary needs (transitively), as paths that resolve on the host. A static
// binary needs none.
func sharedObjects(binary string) ([]string, error) {
	f, err := elf.Open(binary)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", binary, err)
	}
	defer f.Close()
	var interp string
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b, err := io.ReadAll(p.Open())
			if err != nil {
				return nil, fmt.Errorf("reading %s: program interpreter: %w", binary, err)
			}
			interp = strings.TrimRight(string(b), "\x00")
		}
	}
	if interp == "" {
		return nil, nil
	}
	dirs := libraryDirs
	if real, err := filepath.EvalSymlinks(interp); err == nil {
		dirs = append([]string{filepath.Dir(interp), filepath.Dir(real)}, libraryDirs...)
	}
	objects := []string{interp}
	seen := map[string]bool{filepath.Base(interp): true}
	queue := []*elf.File{f}
	for len(queue) > 0 {
		next := queue[0]
		queue = queue[1:]
		needed, err := next.ImportedLibraries()
		if err != nil {
			return nil, fmt.Errorf("reading %s: needed libraries: %w", binary, err)
		}
		for _, name := range needed {
			if seen[name] {
				continue
			}
			seen[name] = true
			path, err := findLibrary(name, dirs)
			if err != nil {
				return nil, fmt.Errorf("%s needs %s: %w", binary, name, err)
			}
			objects = append(objects, path)
			lib, err := elf.Open(path)
			if err != nil {
				return nil, err
			}
			defer lib.Close()
			queue = append(queue, lib)
		}
	}
	return objects, nil
}

func findLibrary(name string, dirs []string) (string, error) {
	for _, dir := range dirs {
		path := filepath.Join(dir, name)
		if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() {
			return path, nil
		}
	}
	return "", errors.New("not found in " + strings.Join(dirs, ", "))
}

// makeRootfs creates the rootfs with the mount points the runtime needs, so runc has
// nothing to create in it and it can be shared read-only by every pod.
func makeRootfs(rootfs string, files []string) error {
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
