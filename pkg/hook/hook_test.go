package hook

import (
	"path/filepath"
	"testing"
)

func TestRestartsCountStartsAfterTheFirst(t *testing.T) {
	file := filepath.Join(t.TempDir(), "starts")
	if got := Restarts(file); got != 0 {
		t.Fatalf("no start yet: Restarts = %d, want 0", got)
	}
	for i, want := range []int32{0, 1, 2} {
		if code := Run(file); code != 0 {
			t.Fatalf("start %d: Run = %d", i+1, code)
		}
		if got := Restarts(file); got != want {
			t.Fatalf("after %d starts: Restarts = %d, want %d", i+1, got, want)
		}
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
