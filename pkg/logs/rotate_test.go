package logs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// eventually polls cond until it holds, failing the test after a few seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("never: %s", what)
}

// allFiles reads the rotated files oldest first, then the current one, as one log.
func allFiles(t *testing.T, path string) string {
	t.Helper()
	var all strings.Builder
	for _, name := range append(rotatedFiles(path), path) {
		all.WriteString(readAll(t, name, ReadOptions{Tail: -1}))
	}
	return all.String()
}

func numbered(prefix string, from, to int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		fmt.Fprintf(&b, "%s-%d\n", prefix, i)
	}
	return b.String()
}

func TestDriverRotatesAtMaxSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	d := startRotatingDriver(t, path, Rotation{MaxSize: 1024, MaxFiles: 3})
	io.WriteString(d.stdout, numbered("line", 1, 500))
	d.stop(t)

	rotated := rotatedFiles(path)
	if len(rotated) != 2 {
		t.Fatalf("rotated files %q, want 2 (3 files in all)", rotated)
	}
	for _, name := range append(rotated, path) {
		if !strings.HasPrefix(filepath.Base(name), "c.log") {
			t.Errorf("%s: not named after c.log", name)
		}
		if st, _ := os.Stat(name); st.Size() > 1024 || st.Size() < 512 {
			t.Errorf("%s: %d bytes, want at most 1024 and full", name, st.Size())
		}
	}
	// What is kept is the end of the output, every line once.
	got := allFiles(t, path)
	if !strings.HasSuffix(numbered("line", 1, 500), got) || !strings.HasSuffix(got, "line-500\n") {
		t.Errorf("kept %q..., want the last lines in order", got[:60])
	}
	// kplay logs reads the current file only, as kubectl logs does.
	if cur := readAll(t, path, ReadOptions{Tail: -1}); !strings.HasSuffix(got, cur) || len(cur) >= len(got) {
		t.Errorf("current file = %q", cur)
	}

	// The next run of the container starts afresh: its predecessor's last file is
	// Previous(path), the rotated ones are gone.
	last := readAll(t, path, ReadOptions{Tail: -1})
	d = startRotatingDriver(t, path, Rotation{MaxSize: 1024, MaxFiles: 3})
	d.stop(t)
	if r := rotatedFiles(path); len(r) != 0 {
		t.Errorf("rotated files of the previous run left: %q", r)
	}
	if prev := readAll(t, Previous(path), ReadOptions{Tail: -1}); prev != last {
		t.Errorf("previous = %q, want the last file of the run before", prev)
	}
}

// Two streams writing as fast as they can while the driver rotates every few records:
// every line is on disk once, each stream's lines in order.
func TestRotationLosesNoLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	d := startRotatingDriver(t, path, Rotation{MaxSize: 300, MaxFiles: 100000})
	const n = 1000
	var wg sync.WaitGroup
	for _, w := range []struct {
		f    *os.File
		name string
	}{{d.stdout, "out"}, {d.stderr, "err"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= n; i++ {
				fmt.Fprintf(w.f, "%s-%d\n", w.name, i)
			}
		}()
	}
	wg.Wait()
	d.stop(t)

	if r := rotatedFiles(path); len(r) < 100 {
		t.Fatalf("%d rotations, want many", len(r))
	}
	var stdout, stderr bytes.Buffer
	for _, name := range append(rotatedFiles(path), path) {
		if err := Read(context.Background(), name, ReadOptions{Tail: -1}, &stdout, &stderr); err != nil {
			t.Fatal(err)
		}
	}
	if want := numbered("out", 1, n); stdout.String() != want {
		t.Errorf("stdout across the files differs from what was written (%d bytes, want %d)", stdout.Len(), len(want))
	}
	if want := numbered("err", 1, n); stderr.String() != want {
		t.Errorf("stderr across the files differs from what was written (%d bytes, want %d)", stderr.Len(), len(want))
	}
}

// follow runs Read with Follow until exited is closed, and returns what it printed.
func follow(path string, opts ReadOptions, exited <-chan struct{}) (out *syncBuffer, done <-chan error) {
	out = &syncBuffer{}
	errc := make(chan error, 1)
	opts.Follow = true
	opts.PollInterval = 5 * time.Millisecond
	opts.Running = func() bool {
		select {
		case <-exited:
			return false
		default:
			return true
		}
	}
	go func() { errc <- Read(context.Background(), path, opts, out, nil) }()
	return out, errc
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// logs -f goes on from each file to the next, even when several rotations happened
// between two looks, and prints every line once.
func TestFollowAcrossRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	d := startRotatingDriver(t, path, Rotation{MaxSize: 512, MaxFiles: 100000})
	io.WriteString(d.stdout, "line-0\n")
	eventually(t, "the first line is in the file", func() bool { return readAll(t, path, ReadOptions{Tail: -1}) == "line-0\n" })
	exited := make(chan struct{})
	out, done := follow(path, ReadOptions{Tail: -1}, exited)
	eventually(t, "logs -f prints the first line", func() bool { return out.String() == "line-0\n" })

	io.WriteString(d.stdout, numbered("line", 1, 1500))
	d.stop(t)
	close(exited)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(rotatedFiles(path)) < 10 {
		t.Fatal("the test did not rotate")
	}
	if got, want := out.String(), numbered("line", 0, 1500); got != want {
		t.Errorf("logs -f printed %d bytes, want every line once: %d", len(got), len(want))
	}
}

// A line without a newline shows while the container runs: the shim keeps the pipes
// open until the task is deleted, so the driver cannot wait for their end.
func TestLastLineWithoutNewline(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	d := startDriver(t, path)
	io.WriteString(d.stdout, "first\nno newline")
	eventually(t, "kplay logs shows the unended line", func() bool {
		return readAll(t, path, ReadOptions{Tail: -1}) == "first\nno newline\n"
	})
	if got := readAll(t, path, ReadOptions{Tail: 1}); got != "no newline\n" {
		t.Errorf("tail 1 = %q", got)
	}

	// logs -f prints it as it is, then the rest of the line when it comes.
	exited := make(chan struct{})
	out, done := follow(path, ReadOptions{Tail: -1}, exited)
	eventually(t, "logs -f shows the unended line", func() bool { return out.String() == "first\nno newline" })
	io.WriteString(d.stdout, " after all\n")
	eventually(t, "logs -f ends the line", func() bool { return out.String() == "first\nno newline after all\n" })
	io.WriteString(d.stdout, "the end")
	d.stop(t)
	close(exited)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "first\nno newline after all\nthe end\n" {
		t.Errorf("logs -f = %q", got)
	}
	if got := readAll(t, path, ReadOptions{Tail: -1}); got != "first\nno newline after all\nthe end\n" {
		t.Errorf("logs = %q", got)
	}
}

// A line begun on stdout and ended later is not mixed with stderr lines written meanwhile.
func TestUnendedLinesPerStream(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	d := startDriver(t, path)
	io.WriteString(d.stdout, "Continue? ")
	eventually(t, "the prompt is in the file", func() bool {
		raw, _ := os.ReadFile(path)
		return bytes.Contains(raw, []byte(" stdout P Continue? \n"))
	})
	io.WriteString(d.stderr, "warning\n")
	eventually(t, "the warning is in the file", func() bool {
		raw, _ := os.ReadFile(path)
		return bytes.Contains(raw, []byte(" stderr F warning\n"))
	})
	io.WriteString(d.stdout, "yes\n")
	d.stop(t)
	var stdout, stderr bytes.Buffer
	if err := Read(context.Background(), path, ReadOptions{Tail: -1}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if stdout.String() != "Continue? yes\n" || stderr.String() != "warning\n" {
		t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
}
