package runtime

import (
	"maps"
	"os"
	"slices"

	"github.com/gofrs/flock"

	"github.com/kplay-dev/kplay/pkg/filelock"
	"github.com/kplay-dev/kplay/pkg/podstate"
)

// lock takes kplay's exclusive lock called name; the file may go with what it
// locks (see filelock.Take).
func (r *Runtime) lock(name string) (*flock.Flock, error) {
	return r.lockFile(name, (*flock.Flock).Lock)
}

func (r *Runtime) lockFile(name string, take func(*flock.Flock) error) (*flock.Flock, error) {
	if err := os.MkdirAll(r.layout.LockDir(), 0o700); err != nil {
		return nil, err
	}
	return filelock.Take(r.layout.Lock(name), take)
}

// ownerLocks lock the objects (owners) whose pods an up creates or a down removes:
// up holds them shared while it creates, down takes them exclusive while it lists,
// so a `down -f` waits for an `up` of the same file that is creating pods and then
// sees all of them. Several ups of the same objects still run side by side. Owners
// are "namespace/Kind/name"; they are locked in order, so two runs never deadlock.
func (r *Runtime) ownerLocks(owners []string, exclusive bool) (release func(), err error) {
	names := map[string]bool{}
	for _, o := range owners {
		names["owner-"+podstate.HashID(o)] = true
	}
	var held []*flock.Flock
	release = func() {
		for _, l := range held {
			l.Unlock()
			// The last holder removes the file; a locker that waited on it locks anew.
			if ok, _ := l.TryLock(); ok {
				os.Remove(l.Path())
				l.Unlock()
			}
		}
	}
	take := (*flock.Flock).RLock
	if exclusive {
		take = (*flock.Flock).Lock
	}
	for _, name := range slices.Sorted(maps.Keys(names)) {
		l, err := r.lockFile(name, take)
		if err != nil {
			release()
			return nil, err
		}
		held = append(held, l)
	}
	return release, nil
}

// podLock serialises everything that creates, changes or removes one pod.
func (r *Runtime) podLock(podID string) (*flock.Flock, error) {
	return r.lock(r.layout.PodLock(podID))
}
