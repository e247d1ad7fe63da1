package logs

import (
	"bytes"
	"context"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The test binary is the log driver when started as the shim starts it.
func TestMain(m *testing.M) {
	if d, ok := DriverInvocation(os.Args); ok {
		os.Exit(RunDriver(d))
	}
	os.Exit(m.Run())
}

// driver runs the log driver the way containerd's shim does: fds 3 and 4 are the
// stdout and stderr pipes, fd 5 is closed when the driver is ready. Env and args as
// the shim builds them from the URI.
type driver struct {
	cmd            *exec.Cmd
	stdout, stderr *os.File
}

func startDriver(t *testing.T, path string) *driver {
	t.Helper()
	return startRotatingDriver(t, path, Rotation{})
}

func startRotatingDriver(t *testing.T, path string, rot Rotation) *driver {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	uri, err := LogURI(exe, Driver{Path: path, Rotation: rot})
	if err != nil {
		t.Fatal(err)
	}
	args := shimArgs(uri)[1:]
	outR, outW, _ := os.Pipe()
	errR, errW, _ := os.Pipe()
	readyR, readyW, _ := os.Pipe()
	cmd := exec.Command(uri.Path, args...)
	cmd.Env = []string{"CONTAINER_ID=test", "CONTAINER_NAMESPACE=test"}
	cmd.ExtraFiles = []*os.File{outR, errR, readyW}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	outR.Close()
	errR.Close()
	readyW.Close()
	if _, err := readyR.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("ready pipe: %v, want EOF", err)
	}
	readyR.Close()
	return &driver{cmd: cmd, stdout: outW, stderr: errW}
}

func (d *driver) stop(t *testing.T) {
	t.Helper()
	d.stdout.Close()
	d.stderr.Close()
	if err := d.cmd.Wait(); err != nil {
		t.Fatalf("driver exited with %v", err)
	}
}

func readAll(t *testing.T, path string, opts ReadOptions) string {
	t.Helper()
	var out bytes.Buffer
	if err := Read(context.Background(), path, opts, &out, nil); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestDriverRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs", "c.log")
	d := startDriver(t, path)
	long := strings.Repeat("x", 40*1024)
	io.WriteString(d.stdout, "one\n")
	time.Sleep(20 * time.Millisecond) // keep the order across the two pipes
	io.WriteString(d.stderr, "two\n")
	time.Sleep(20 * time.Millisecond)
	io.WriteString(d.stdout, long+"\nthree\nno newline")
	d.stop(t)

	raw, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	format := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) [FP] `)
	for _, l := range lines {
		if !format.MatchString(l) {
			t.Fatalf("not a CRI log line: %.80q", l)
		}
	}
	// 40 KiB: two partial records of 16 KiB and a full one.
	if got := strings.Count(string(raw), " stdout P "); got != 2 {
		t.Errorf("%d partial records, want 2", got)
	}
	if !strings.Contains(string(raw), " stderr F two\n") {
		t.Errorf("stderr line not recorded: %q", raw[:200])
	}

	want := "one\ntwo\n" + long + "\nthree\nno newline\n"
	if got := readAll(t, path, ReadOptions{Tail: -1}); got != want {
		t.Errorf("Read = %.100q..., want %.100q...", got, want)
	}
	var out, errs bytes.Buffer
	if err := Read(context.Background(), path, ReadOptions{Tail: -1}, &out, &errs); err != nil || errs.String() != "two\n" || out.String() != "one\n"+long+"\nthree\nno newline\n" {
		t.Errorf("split streams: stdout %.40q, stderr %q, %v", out.String(), errs.String(), err)
	}
	if got := readAll(t, path, ReadOptions{Tail: 2}); got != "three\nno newline\n" {
		t.Errorf("tail 2 = %q", got)
	}
	if got := readAll(t, path, ReadOptions{Tail: 0}); got != "" {
		t.Errorf("tail 0 = %q", got)
	}
	stamped := readAll(t, path, ReadOptions{Tail: 1, Timestamps: true})
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT[\d:.]+Z no newline\n$`).MatchString(stamped) {
		t.Errorf("timestamps: %q", stamped)
	}
	if got := readAll(t, path, ReadOptions{Tail: -1, Since: time.Now().Add(time.Hour)}); got != "" {
		t.Errorf("since the future = %q", got)
	}
}

func TestDriverKeepsPrevious(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	d := startDriver(t, path)
	io.WriteString(d.stdout, "first run\n")
	d.stop(t)
	d = startDriver(t, path)
	io.WriteString(d.stdout, "second run\n")
	d.stop(t)
	if got := readAll(t, path, ReadOptions{Tail: -1}); got != "second run\n" {
		t.Errorf("current = %q", got)
	}
	if got := readAll(t, Previous(path), ReadOptions{Tail: -1}); got != "first run\n" {
		t.Errorf("previous = %q", got)
	}
}

func TestFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	d := startDriver(t, path)
	io.WriteString(d.stdout, "before\n")
	exited := make(chan struct{})
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		running := func() bool {
			select {
			case <-exited:
				return false
			default:
				return true
			}
		}
		errc <- Read(context.Background(), path, ReadOptions{Tail: -1, Follow: true, Running: running, PollInterval: 20 * time.Millisecond}, pw, nil)
		pw.Close()
	}()
	lines := make(chan string, 10)
	go func() {
		b := make([]byte, 1024)
		for {
			n, err := pr.Read(b)
			if n > 0 {
				lines <- string(b[:n])
			}
			if err != nil {
				close(lines)
				return
			}
		}
	}()
	expect := func(want string) {
		t.Helper()
		var got string
		timeout := time.After(3 * time.Second)
		for got != want {
			select {
			case s, ok := <-lines:
				if !ok {
					t.Fatalf("follow ended with %q, want %q", got, want)
				}
				got += s
			case <-timeout:
				t.Fatalf("follow printed %q, want %q", got, want)
			}
		}
	}
	expect("before\n")
	io.WriteString(d.stdout, "after\n")
	expect("after\n")
	io.WriteString(d.stderr, "last words\n")
	d.stop(t)
	close(exited)
	expect("last words\n")
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("follow did not end after the container exited")
	}
}

func TestFollowCancelled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	os.WriteFile(path, nil, 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := Read(ctx, path, ReadOptions{Tail: -1, Follow: true}, io.Discard, nil); err != nil {
		t.Fatal(err)
	}
}

func TestReadMissing(t *testing.T) {
	err := Read(context.Background(), filepath.Join(t.TempDir(), "none.log"), ReadOptions{Tail: -1}, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "no log at") {
		t.Fatalf("Read of a missing file: %v", err)
	}
}

// shimArgs are the driver's arguments as containerd's shim builds them from a log URI,
// which it gets as a string.
func shimArgs(uri *url.URL) []string {
	uri, err := url.Parse(uri.String())
	if err != nil {
		panic(err)
	}
	args := []string{uri.Path}
	for k, vs := range uri.Query() {
		args = append(args, k, vs[0])
	}
	return args
}

func TestLogURI(t *testing.T) {
	want := Driver{Path: "/var/lib/kplay/pods/x/logs/a b&c=d.log", Rotation: Rotation{MaxSize: 1536, MaxFiles: 3}}
	u, err := LogURI("/var/lib/kplay/bin/kplay-1-2", want)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "binary" || u.Path != "/var/lib/kplay/bin/kplay-1-2" || len(u.Query()) != 1 {
		t.Fatalf("LogURI = %s, want one query parameter", u)
	}
	if got, ok := DriverInvocation(shimArgs(u)); !ok || got != want {
		t.Fatalf("DriverInvocation = %+v, %v, want %+v", got, ok, want)
	}
	u, _ = LogURI("/k", Driver{Path: "/x.log"})
	if got, _ := DriverInvocation(shimArgs(u)); got.Rotation != DefaultRotation {
		t.Errorf("zero rotation = %+v, want the default", got.Rotation)
	}
	if _, err := LogURI("kplay", Driver{Path: "/x.log"}); err == nil {
		t.Fatal("relative binary accepted")
	}
	if _, err := LogURI("/k", Driver{Path: "/x.log", Rotation: Rotation{MaxSize: 10, MaxFiles: 1}}); err == nil {
		t.Fatal("one file accepted")
	}
}

// Pods created by an older kplay keep their URI: the path alone, rotated with the defaults.
func TestDriverInvocationOfOlderURI(t *testing.T) {
	old := &url.URL{Scheme: "binary", Path: "/k", RawQuery: url.Values{DriverArg: {"/p/c.log"}}.Encode()}
	got, ok := DriverInvocation(shimArgs(old))
	if !ok || got != (Driver{Path: "/p/c.log", Rotation: DefaultRotation}) {
		t.Fatalf("DriverInvocation = %+v, %v", got, ok)
	}
	if _, ok := DriverInvocation([]string{"kplay", "logs", "web"}); ok {
		t.Fatal("a kplay command taken for the driver")
	}
}

// A driver that cannot write its file still drains the pipes, so the container is
// not killed by SIGPIPE, and reports the failure in its exit code.
func TestDriverUnwritableFile(t *testing.T) {
	d := startDriver(t, "/dev/null/c.log")
	if _, err := io.WriteString(d.stdout, "still accepted\n"); err != nil {
		t.Fatalf("write to the container's stdout: %v", err)
	}
	d.stdout.Close()
	d.stderr.Close()
	if err := d.cmd.Wait(); err == nil {
		t.Fatal("driver exited 0 without a log file")
	}
}
