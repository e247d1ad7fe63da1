package volume

import (
	"fmt"
	"os"
	"syscall"
)

// Directories kplay makes under its roots are root's and closed to other users
// (0750, as the kubelet keeps pod directories), so no local user reaches a pod's data
// through them; a volume itself may be open inside (an emptyDir is 0777) because only
// the containers that mount it see it.
const privateDir = 0o750

// mkdirPrivate creates dir and its missing parents as private directories.
func mkdirPrivate(dir string) error { return os.MkdirAll(dir, privateDir) }

// SecureRoots creates the run and data roots, or tightens existing ones made by an
// older kplay or by hand: owned by root, no access for other users.
func (m Manager) SecureRoots() error {
	for _, root := range []string{m.Layout.RunRoot, m.Layout.DataRoot} {
		if err := secureRoot(root); err != nil {
			return err
		}
		closeLevels(root, 2)
	}
	return nil
}

// closeLevels takes other users' access from the directories in the first levels
// below root (pods/<pod>, claims/<namespace>, ...), which an older kplay made 0755 or
// 0777: the closed root stops new walks, this also stops a process that already sat
// inside. Volumes themselves lie deeper and keep their modes.
func closeLevels(root string, depth int) {
	if depth == 0 {
		return
	}
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		path := root + "/" + e.Name()
		if fi, err := os.Lstat(path); err == nil && fi.Mode().Perm()&0o007 != 0 {
			os.Chmod(path, fi.Mode().Perm()&^0o007)
		}
		closeLevels(path, depth-1)
	}
}

func secureRoot(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && (st.Uid != 0 || st.Gid != 0) {
		if err := os.Chown(dir, 0, 0); err != nil {
			return fmt.Errorf("making %s root's: %w", dir, err)
		}
	}
	if fi.Mode().Perm()&0o027 != 0 {
		if err := os.Chmod(dir, fi.Mode().Perm()&^0o027); err != nil {
			return fmt.Errorf("closing %s to other users: %w", dir, err)
		}
	}
	return nil
}
