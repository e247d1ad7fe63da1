package runtime

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/kplay-dev/kplay/pkg/pause"
	"github.com/kplay-dev/kplay/pkg/podstate"
)

func TestReclaimBinariesKeepsWhatPodsUse(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	files := map[string]time.Time{"unused-old": old, "used-old": old, "current-old": old, "unused-new": time.Now()}
	for name, mtime := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, nil, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	r := &Runtime{cfg: Config{DataRoot: root}, layout: podstate.Layout{DataRoot: root}, infra: pause.Infra{Binary: filepath.Join(dir, "current-old")}}
	r.reclaimBinaries(map[string]bool{filepath.Join(dir, "used-old"): true})

	for name, kept := range map[string]bool{"unused-old": false, "used-old": true, "current-old": true, "unused-new": true} {
		_, err := os.Stat(filepath.Join(dir, name))
		if got := err == nil; got != kept {
			t.Errorf("%s kept = %v, want %v", name, got, kept)
		}
	}
}

func TestHolderRunsKnowsTheProcessNotItsName(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	id, ok := processIdentity(self)
	if !ok {
		t.Fatal("no identity for this process")
	}
	// The test binary is not called kplay: the old check by name lost its lease.
	if !holderRuns(self, id) {
		t.Errorf("a running holder %s (%s) is reported gone", self, id)
	}
	if holderRuns(self, id+"1") {
		t.Errorf("a process that reuses the holder's pid is reported as the holder")
	}
	if holderRuns("999999999", id) {
		t.Errorf("a process that does not exist runs")
	}
	if got, ok := startTime("123 (a b) c) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 4242 19"); !ok || got != "4242" {
		t.Errorf("startTime with a tricky command name = %q, %v; want 4242", got, ok)
	}
}
