package runtime

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kplay-dev/kplay/pkg/helperbin"
	"github.com/kplay-dev/kplay/pkg/logs"
	"github.com/kplay-dev/kplay/pkg/podstate"
)

func TestReclaimBinariesKeepsWhatPodsUse(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	// Both kinds of file: the copies of the whole kplay binary that kplays before the
	// helper made, and helpers.
	files := map[string]time.Time{
		"kplay-68011327-18ef050df91eb6d8": old, // an older kplay's copy, a pod's label names it
		"kplay-70000000-18ef050df91eb6d9": old, // an older kplay's copy no pod uses
		"kplay-helper-00000000000000aa":   old, // no pod uses it
		"kplay-helper-00000000000000bb":   old, // only a restart log URI names it
		"kplay-helper-00000000000000cc":   old, // this kplay's
		"kplay-helper-00000000000000dd":   time.Now(),
		".kplay-helper-123":               old, // a killed install's temporary file
	}
	for name, mtime := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, nil, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	r := &Runtime{cfg: Config{DataRoot: root}, layout: podstate.Layout{DataRoot: root}, infra: helperbin.Infra{Binary: filepath.Join(dir, "kplay-helper-00000000000000cc")}}
	uri, err := logs.LogURI(filepath.Join(dir, "kplay-helper-00000000000000bb"), logs.Driver{Path: "/var/log/c.log"})
	if err != nil {
		t.Fatal(err)
	}
	r.reclaimBinaries(map[string]bool{
		filepath.Join(dir, "kplay-68011327-18ef050df91eb6d8"): true,
		logDriver(uri.String()):                               true,
		logDriver("fifo:///x"):                                true,
	})

	for name, kept := range map[string]bool{
		"kplay-68011327-18ef050df91eb6d8": true, "kplay-70000000-18ef050df91eb6d9": false,
		"kplay-helper-00000000000000aa": false, "kplay-helper-00000000000000bb": true,
		"kplay-helper-00000000000000cc": true, "kplay-helper-00000000000000dd": true,
		".kplay-helper-123": false,
	} {
		_, err := os.Stat(filepath.Join(dir, name))
		if got := err == nil; got != kept {
			t.Errorf("%s kept = %v, want %v", name, got, kept)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".reclaim-*")); len(left) > 0 {
		t.Errorf("reclaim left %v behind", left)
	}
}

// An `up` beside this cleanup (it does not take the ports lock) may take an old helper
// between the cleanup's first look and the removal: the helper stays.
func TestReclaimBinariesSparesAHelperTakenMeanwhile(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "bin")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "kplay-helper-00000000000000aa")
	if err := os.WriteFile(path, []byte("helper"), 0o755); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	beforeReclaim = func(p string) {
		now := time.Now()
		os.Chtimes(p, now, now) // what helperbin.Install does to a file it takes
	}
	defer func() { beforeReclaim = func(string) {} }()
	r := &Runtime{cfg: Config{DataRoot: root}, layout: podstate.Layout{DataRoot: root}}
	r.reclaimBinaries(nil)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the helper an up took is gone: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("bin holds %d entries, want the helper alone", len(entries))
	}
}
