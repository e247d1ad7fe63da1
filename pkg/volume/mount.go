package volume

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/kplay-dev/kplay/pkg/podstate"
)

// mountTmpfs mounts a tmpfs on dir unless one is mounted there already.
func mountTmpfs(dir, options string) error {
	mounted, err := isMountPoint(dir)
	if err != nil || mounted {
		return err
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, options); err != nil {
		return fmt.Errorf("mounting tmpfs on %s: %w", dir, err)
	}
	return nil
}

// mountSized mounts a tmpfs of size bytes on dir, or resizes the one there: an update
// of a secret may need more room than its first version did.
func mountSized(dir, options string, size int64) error {
	mounted, err := isMountPoint(dir)
	if err != nil {
		return err
	}
	opts := options + ",size=" + strconv.FormatInt(size, 10)
	if !mounted {
		return mountTmpfs(dir, opts)
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err == nil && int64(fs.Blocks)*fs.Bsize >= size {
		return nil // shrinking under the files there would fail; the cap stays as it is
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_REMOUNT|unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("resizing tmpfs on %s: %w", dir, err)
	}
	return nil
}

func isMountPoint(dir string) (bool, error) {
	var st, parent unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return false, err
	}
	if err := unix.Lstat(filepath.Dir(dir), &parent); err != nil {
		return false, err
	}
	return st.Dev != parent.Dev, nil
}

// Remove unmounts every tmpfs of the pod (lazily when busy) and removes its
// directories. Removing a pod that is gone is not an error.
func (m Manager) Remove(pod podstate.PodDirs) error {
	podUID := pod.Key
	if podUID == "" || strings.ContainsAny(podUID, "/") || podUID == "." || podUID == ".." {
		return fmt.Errorf("removing volumes: bad pod UID %q", podUID)
	}
	var errs []error
	for _, dir := range []string{pod.Run, pod.Data} {
		if err := unmountUnder(dir); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("removing volumes of pod %s: %w", podUID, err)
	}
	return nil
}

// RemoveClaim deletes a claim's data (`down --volumes`).
func (m Manager) RemoveClaim(namespace, name string) error {
	if checkName(namespace) != nil || checkName(name) != nil {
		return fmt.Errorf("removing claim %q/%q: bad name", namespace, name)
	}
	path := m.ClaimPath(namespace, name)
	if err := unmountUnder(path); err != nil {
		return err
	}
	if err := os.RemoveAll(path); err != nil {
		return fmt.Errorf("removing claim %s/%s: %w", namespace, name, err)
	}
	return nil
}

// unmountUnder unmounts every mount at or below dir, deepest first, so RemoveAll
// never deletes through a mount.
func unmountUnder(dir string) error {
	mounts, err := mountPoints()
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	var under []string
	for _, m := range mounts {
		if m == abs || strings.HasPrefix(m, abs+"/") {
			under = append(under, m)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(under)))
	for _, m := range under {
		err := unix.Unmount(m, unix.UMOUNT_NOFOLLOW)
		if errors.Is(err, unix.EBUSY) {
			err = unix.Unmount(m, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW)
		}
		if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("unmounting %s: %w", m, err)
		}
	}
	return nil
}

// mountPoints lists the mount points of this mount namespace.
func mountPoints() ([]string, error) {
	// Read whole: a line has no bound a scanner could hold, since a container can
	// make the root field of a bind mount into its volume as long as it likes.
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	return parseMountPoints(b), nil
}

// parseMountPoints reads the mount points out of a mountinfo file.
func parseMountPoints(b []byte) []string {
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		// The mount point is field 5; fields 1-4 are short and hold no spaces.
		fields := strings.SplitN(line, " ", 6)
		if len(fields) > 4 {
			points = append(points, unescapeOctal(fields[4]))
		}
	}
	return points
}

// unescapeOctal undoes mountinfo's \NNN escapes of space, tab, newline and backslash.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
