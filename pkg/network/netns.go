package network

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// createNetNS makes a new network namespace and pins it by bind-mounting it on
// path, so it outlives every process in it and a later kplay finds it by name.
// containerd's pkg/netns does the same but picks a random file name. Its lo is
// up: the loopback CNI plugin would do that with two more processes per pod.
func createNetNS(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return fmt.Errorf("creating network namespace pin: %w", err)
	}
	f.Close()

	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			// The thread may be half-changed: leave it locked so it is destroyed.
			errc <- fmt.Errorf("unshare: %w", err)
			return
		}
		src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		err = loopbackUp()
		if err == nil {
			if err = unix.Mount(src, path, "", unix.MS_BIND, ""); err != nil {
				err = fmt.Errorf("bind-mounting %s on %s: %w", src, path, err)
			}
		}
		// Back to the original namespace, so this thread neither keeps the
		// pod's namespace alive nor runs other goroutines in it. If that
		// fails the thread stays locked, and Go destroys it with the goroutine.
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		os.Remove(path)
		return fmt.Errorf("creating network namespace: %w", err)
	}
	return nil
}

// loopbackUp sets lo up in the calling thread's network namespace; the kernel
// gives it 127.0.0.1/8 (and ::1) as it comes up.
func loopbackUp() error {
	lo, err := netlink.LinkByName("lo")
	if err == nil {
		err = netlink.LinkSetUp(lo)
	}
	if err != nil {
		return fmt.Errorf("bringing up lo: %w", err)
	}
	return nil
}

// isNetNS reports whether path is a pinned (mounted) network namespace. A pin
// file left after a reboot or a lost mount is a plain file, which plugins reject.
func isNetNS(path string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false
	}
	return st.Type == unix.NSFS_MAGIC
}

// removeNetNS unmounts and removes a pin; a missing pin is not an error.
func removeNetNS(path string) error {
	for i := 0; i < 4; i++ {
		err := unix.Unmount(path, unix.MNT_DETACH)
		if err == nil {
			continue // stacked mounts: unmount until none is left
		}
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			break
		}
		return fmt.Errorf("unmounting network namespace %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing network namespace %s: %w", path, err)
	}
	return nil
}
