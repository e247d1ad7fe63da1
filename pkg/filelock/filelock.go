// Package filelock takes flock(2) locks on files that their holders may delete: a
// pod's lock file goes with the pod, and an owner's with its last holder.
package filelock

import (
	"os"

	"github.com/gofrs/flock"
)

// Take locks the file at path with take ((*flock.Flock).Lock or RLock). The file may
// be deleted by whoever holds it, so after locking, the file must still be the one
// at the path: a locker that waited on a deleted file tries again.
func Take(path string, take func(*flock.Flock) error) (*flock.Flock, error) {
	for {
		l := flock.New(path)
		if err := take(l); err != nil {
			return nil, err
		}
		held, err := l.Stat()
		if err != nil {
			l.Close()
			return nil, err
		}
		if now, err := os.Stat(path); err == nil && os.SameFile(held, now) {
			return l, nil
		}
		l.Close()
	}
}
