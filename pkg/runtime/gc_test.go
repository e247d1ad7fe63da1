package runtime

import (
	"os"
	"path/filepath"
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
