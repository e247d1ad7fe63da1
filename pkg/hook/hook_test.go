package hook

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestStartsRecordEachStartAndItsTime(t *testing.T) {
	file := filepath.Join(t.TempDir(), "starts")
	if got := Restarts(Starts(file)); got != 0 {
		t.Fatalf("no start yet: Restarts = %d, want 0", got)
	}
	before := time.Now()
	for i, want := range []int32{0, 1, 2} {
		if code := Run(file); code != 0 {
			t.Fatalf("start %d: Run = %d", i+1, code)
		}
		starts := Starts(file)
		if got := Restarts(starts); got != want {
			t.Fatalf("after %d starts: Restarts = %d, want %d", i+1, got, want)
		}
		last := starts[len(starts)-1]
		if last.Before(before) || last.After(time.Now()) {
			t.Fatalf("start %d recorded at %s, want between %s and now", i+1, last, before)
		}
		if i > 0 && last.Before(starts[i-1]) {
			t.Fatalf("start %d at %s is before start %d at %s", i+1, last, i, starts[i-1])
		}
	}
}

// Pods made by an older kplay run its hook, which wrote a '.' per start.
func TestStartsReadTheOlderHooksDots(t *testing.T) {
	file := filepath.Join(t.TempDir(), "starts")
	if err := os.WriteFile(file, []byte(".."), 0o644); err != nil {
		t.Fatal(err)
	}
	starts := Starts(file)
	if len(starts) != 2 || !starts[0].IsZero() || !starts[1].IsZero() {
		t.Fatalf("Starts of \"..\" = %v, want two starts of unknown time", starts)
	}
	if got := Restarts(starts); got != 1 {
		t.Fatalf("Restarts = %d, want 1", got)
	}
}

func TestInvocation(t *testing.T) {
	h := Poststart("/var/lib/kplay/bin/kplay", "/x/starts")
	if file, ok := Invocation(h.Args); !ok || file != "/x/starts" {
		t.Fatalf("Invocation(%q) = %q, %v", h.Args, file, ok)
	}
	if _, ok := Invocation([]string{"kplay", "up"}); ok {
		t.Fatal("kplay up taken for a hook")
	}
}
