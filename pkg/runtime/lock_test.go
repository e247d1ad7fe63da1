package runtime

import (
	"os"
	"testing"
	"time"
)

// A pod's lock file is deleted with the pod. Who waited on the deleted file must end
// up holding the lock on the file now at the path, or two kplays would both "hold" it.
func TestLockSurvivesItsFileBeingRemoved(t *testing.T) {
	r := &Runtime{cfg: Config{RunRoot: t.TempDir(), Namespace: "kplay"}}
	first, err := r.podLock("default_web")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan struct{})
	go func() {
		second, err := r.podLock("default_web")
		if err != nil {
			t.Error(err)
		}
		close(got)
		time.Sleep(200 * time.Millisecond)
		second.Unlock()
	}()
	time.Sleep(100 * time.Millisecond) // the second locker now waits on the old file
	os.Remove(first.Path())
	first.Unlock()
	<-got

	// The second holds the lock on the file at the path: a third must wait for it.
	start := time.Now()
	third, err := r.podLock("default_web")
	if err != nil {
		t.Fatal(err)
	}
	defer third.Unlock()
	if waited := time.Since(start); waited < 100*time.Millisecond {
		t.Errorf("a third locker got the lock after %s while the second held it", waited)
	}
}
