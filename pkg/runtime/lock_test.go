package runtime

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gofrs/flock"
	"github.com/kplay-dev/kplay/pkg/podstate"
)

// A pod's lock file is deleted with the pod. Who waited on the deleted file must end
// up holding the lock on the file now at the path, or two kplays would both "hold" it.
func TestLockSurvivesItsFileBeingRemoved(t *testing.T) {
	root := t.TempDir()
	r := &Runtime{cfg: Config{RunRoot: root, Namespace: "kplay"}, layout: podstate.Layout{RunRoot: root, Namespace: "kplay"}}
	first, err := r.podLock("default_web")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *flock.Flock)
	go func() {
		second, err := r.podLock("default_web")
		if err != nil {
			t.Error(err)
		}
		got <- second
	}()
	waitBlockedOn(t, first.Path()) // the second locker now waits on the old file
	os.Remove(first.Path())
	first.Unlock()
	second := <-got

	// The second holds the lock on the file at the path: a third cannot take it.
	third := flock.New(first.Path())
	if ok, err := third.TryLock(); err != nil || ok {
		t.Fatalf("a third locker took the lock (%v, %v) while the second held it", ok, err)
	}
	second.Unlock()
	if ok, err := third.TryLock(); err != nil || !ok {
		t.Fatalf("a third locker could not take the lock (%v, %v) after the second let go", ok, err)
	}
	third.Unlock()
}

// waitBlockedOn waits until /proc/locks shows a process blocked on the file at path.
func waitBlockedOn(t *testing.T, path string) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	inode := ":" + strconv.FormatUint(st.Ino, 10) + " "
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile("/proc/locks")
		if err != nil {
			t.Skip("no /proc/locks to see a blocked locker:", err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "-> FLOCK") && strings.Contains(line, inode) {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("nobody blocked on %s within 10 s", path)
}
