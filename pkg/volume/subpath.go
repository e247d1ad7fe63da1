package volume

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	"github.com/kplay-dev/kplay/pkg/podstate"
)

// SubPath is one volumeMount with a subPath: the mount point kplay binds it onto
// belongs to container's mount number index.
type SubPath struct {
	Pod       podstate.PodDirs
	Container string
	Index     int    // the mount's position in the container's volumeMounts
	Volume    string // host path of the volume
	Path      string // subPath, relative to the volume
}

// BindSubPath makes a subPath safe to give to runc, the way the kubelet does: it
// opens every component of the path without following symlinks, so what it opens is
// inside the volume even when a container swaps a directory for a symlink at the same
// time, and bind-mounts the opened file or directory onto a mount point under the
// pod's run directory. runc is given that mount point, which keeps pointing at what
// was opened across every restart of the container, whatever the containers do to
// the volume afterwards. A missing subPath is created as a directory, as the kubelet
// does. The mount goes with the pod (Remove).
func (m Manager) BindSubPath(sp SubPath) (string, error) {
	if err := checkRelative(sp.Path); err != nil {
		return "", err
	}
	if err := checkName(sp.Pod.Key); err != nil {
		return "", err
	}
	if err := checkName(sp.Container); err != nil {
		return "", err
	}
	base, err := filepath.EvalSymlinks(sp.Volume)
	if err != nil {
		return "", err
	}
	if err := makeSubPath(base, sp.Path); err != nil {
		return "", err
	}
	// Symlinks inside the volume that stay inside it are allowed (the kubelet allows
	// them); what they point at is then opened without following any.
	resolved, err := filepath.EvalSymlinks(filepath.Join(base, sp.Path))
	if err != nil {
		return "", fmt.Errorf("subPath %q: %w", sp.Path, err)
	}
	rel, err := filepath.Rel(base, resolved)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("subPath %q resolves to %s, outside the volume: %w", sp.Path, resolved, errdefs.ErrInvalidArgument)
	}
	fd, err := openNoFollow(base, rel)
	if err != nil {
		return "", fmt.Errorf("subPath %q: %w", sp.Path, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "", err
	}
	target := m.subPathTarget(sp)
	if err := makeMountPoint(target, st.Mode&unix.S_IFMT == unix.S_IFDIR); err != nil {
		return "", err
	}
	if err := unix.Mount("/proc/self/fd/"+strconv.Itoa(fd), target, "", unix.MS_BIND, ""); err != nil {
		return "", fmt.Errorf("binding subPath %q onto %s: %w", sp.Path, target, err)
	}
	return target, nil
}

// subPathTarget is where a subPath is bound: under the pod's run directory, where
// neither containers nor other users reach.
func (m Manager) subPathTarget(sp SubPath) string {
	return sp.Pod.SubPath(sp.Container, sp.Index)
}

// checkRelative refuses what could leave the volume before anything is opened.
func checkRelative(sub string) error {
	if filepath.IsAbs(sub) {
		return fmt.Errorf("subPath %q must be a relative path: %w", sub, errdefs.ErrInvalidArgument)
	}
	for _, elem := range strings.Split(sub, "/") {
		if elem == ".." {
			return fmt.Errorf("subPath %q must not contain '..': %w", sub, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

func checkName(s string) error {
	if s == "" || s == "." || s == ".." || strings.Contains(s, "/") {
		return fmt.Errorf("bad name %q: %w", s, errdefs.ErrInvalidArgument)
	}
	return nil
}

// makeSubPath creates a missing subPath as a directory with the volume's own mode.
// os.Root never follows a symlink out of base, so nothing is created outside it.
func makeSubPath(base, sub string) error {
	root, err := os.OpenRoot(base)
	if err != nil {
		return err
	}
	defer root.Close()
	if _, err := root.Lstat(sub); !errors.Is(err, os.ErrNotExist) {
		return nil
	}
	st, err := os.Stat(base)
	if err != nil {
		return err
	}
	// Each directory made gets the volume's mode whatever the umask, as the kubelet's
	// doSafeMakeDir does, so a non-root container can write where its volume lets it.
	mode := st.Mode().Perm()
	made := ""
	for _, elem := range strings.Split(sub, "/") {
		if elem == "" || elem == "." {
			continue
		}
		made = filepath.Join(made, elem)
		if err := root.Mkdir(made, mode); errors.Is(err, os.ErrExist) {
			continue
		} else if err != nil {
			return fmt.Errorf("creating subPath %q: %w", sub, err)
		}
		if err := root.Chmod(made, mode); err != nil {
			return fmt.Errorf("creating subPath %q: %w", sub, err)
		}
	}
	return nil
}

// openNoFollow opens rel under base one component at a time with O_NOFOLLOW, so no
// symlink is followed anywhere on the way. The result is an O_PATH descriptor: it
// pins the inode without reading it (a FIFO does not block).
func openNoFollow(base, rel string) (int, error) {
	fd, err := unix.Open(base, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("opening %s: %w", base, err)
	}
	if rel == "." {
		return fd, nil
	}
	for _, elem := range strings.Split(rel, "/") {
		if elem == "" || elem == "." {
			continue
		}
		next, err := unix.Openat(fd, elem, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			return -1, fmt.Errorf("opening %q: %w", elem, err)
		}
		var st unix.Stat_t
		if err := unix.Fstat(next, &st); err != nil {
			unix.Close(next)
			return -1, err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			unix.Close(next)
			return -1, fmt.Errorf("%q became a symlink while it was opened: %w", elem, errdefs.ErrInvalidArgument)
		}
		fd = next
	}
	return fd, nil
}

// makeMountPoint prepares target for a bind mount of a directory or a file. A mount
// left there by an earlier container of the same name is replaced.
func makeMountPoint(target string, dir bool) error {
	if err := mkdirPrivate(filepath.Dir(target)); err != nil {
		return err
	}
	if err := unmountUnder(target); err != nil {
		return err
	}
	if fi, err := os.Lstat(target); err == nil && fi.IsDir() != dir {
		if err := os.Remove(target); err != nil {
			return err
		}
	}
	if dir {
		if err := os.Mkdir(target, 0o750); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		return nil
	}
	f, err := os.OpenFile(target, os.O_CREATE|os.O_RDONLY|unix.O_NOFOLLOW, 0o640)
	if err != nil {
		return err
	}
	return f.Close()
}
