// Package logs writes container output to files in the CRI log format, from a
// logger process the containerd shim runs, and reads them back like `kubectl logs`.
package logs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// DriverArg is the first argument of the log driver process. The shim turns each
// query parameter of a binary:// log URI into "key value" arguments, in random map
// order, so the URI carries exactly one: DriverArg=<settings>, the settings being a
// query string of their own (path, max-size, max-files). An older kplay's URI has the
// log path alone as the value.
const DriverArg = "--kplay-log-driver"

// Driver is what a log driver process writes: the log file and its rotation.
type Driver struct {
	Path     string
	Rotation Rotation
}

// partialAfter is how long the driver waits for the end of a line before it writes
// what it has as a partial record. The shim closes the pipes only when the task is
// deleted, not when the container exits, so a last line without a newline would
// otherwise stay in the driver until then.
const partialAfter = 100 * time.Millisecond

// maxLine is the longest line written as one record; longer lines are split into
// partial (P) records, as the kubelet does.
const maxLine = 16 * 1024

// timeFormat is the CRI log timestamp: fixed width so files sort and parse simply.
const timeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// LogURI is the stdout/stderr URI for a task (cio.LogURI) that makes the shim run
// binary, the installed kplay-helper, as the log driver writing to d.Path. A zero
// d.Rotation is DefaultRotation.
func LogURI(binary string, d Driver) (*url.URL, error) {
	if !filepath.IsAbs(binary) || !filepath.IsAbs(d.Path) {
		return nil, fmt.Errorf("log driver %q and log file %q must be absolute paths", binary, d.Path)
	}
	if d.Rotation == (Rotation{}) {
		d.Rotation = DefaultRotation
	}
	if err := d.Rotation.Validate(); err != nil {
		return nil, err
	}
	settings := url.Values{
		"path":      {d.Path},
		"max-size":  {strconv.FormatInt(d.Rotation.MaxSize, 10)},
		"max-files": {strconv.Itoa(d.Rotation.MaxFiles)},
	}
	return &url.URL{
		Scheme:   "binary",
		Path:     binary,
		RawQuery: url.Values{DriverArg: {settings.Encode()}}.Encode(),
	}, nil
}

// DriverInvocation reports whether args start the log driver, and what it writes.
// Settings it cannot read fall back to the defaults: the driver must start, or the
// container cannot.
func DriverInvocation(args []string) (Driver, bool) {
	if len(args) != 3 || args[1] != DriverArg {
		return Driver{}, false
	}
	d := Driver{Path: args[2], Rotation: DefaultRotation}
	if filepath.IsAbs(args[2]) { // an older kplay's URI: the path alone
		return d, true
	}
	q, _ := url.ParseQuery(args[2])
	d.Path = q.Get("path")
	rot := d.Rotation
	if n, err := strconv.ParseInt(q.Get("max-size"), 10, 64); err == nil {
		rot.MaxSize = n
	}
	if n, err := strconv.Atoi(q.Get("max-files")); err == nil {
		rot.MaxFiles = n
	}
	if rot.Validate() == nil {
		d.Rotation = rot
	}
	return d, true
}

// Previous is where the log of the previous run of a container is kept.
func Previous(path string) string { return path + ".previous" }

// The shim passes the container's stdout and stderr pipes as fds 3 and 4 and a
// pipe on fd 5 that it reads until EOF: closing it says the driver is ready.
const (
	stdoutFD = 3
	stderrFD = 4
	readyFD  = 5
)

// RunDriver is the log driver process. It copies both pipes to d.Path until they
// close, rotating as d.Rotation says; the last file of an earlier run of the
// container moves to Previous(path). Its own errors have nowhere to go (the shim
// discards its output), so they only decide the exit code.
func RunDriver(d Driver) int {
	debug.SetGCPercent(20)
	stdout := pipe(stdoutFD, "stdout")
	stderr := pipe(stderrFD, "stderr")
	ready := os.NewFile(readyFD, "ready")
	var out io.Writer = io.Discard
	f, openErr := openLog(d.Path, d.Rotation)
	if openErr == nil {
		defer f.Close()
		out = f
	}
	// Without a file the output is still read and dropped: a closed pipe would kill
	// the container with SIGPIPE on its next write.
	ready.Close()

	w := &recordWriter{w: out}
	var wg sync.WaitGroup
	for _, p := range []struct {
		r      *os.File
		stream string
	}{{stdout, "stdout"}, {stderr, "stderr"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			copyRecords(w, p.r, p.stream)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	// The shim sends SIGTERM when the task is deleted; processes the container left
	// behind may still hold the pipes open, so give the copy a moment, then exit.
	term := make(chan os.Signal, 1)
	signal.Notify(term, unix.SIGTERM, unix.SIGINT)
	select {
	case <-done:
	case <-term:
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
	}
	if openErr != nil || w.err != nil {
		return 1
	}
	return 0
}

// pipe opens an inherited pipe in non-blocking mode, so reads can have deadlines.
func pipe(fd int, name string) *os.File {
	_ = unix.SetNonblock(fd, true)
	return os.NewFile(uintptr(fd), name)
}

// recordWriter writes whole records with one write each, so the two streams never
// interleave within a line.
type recordWriter struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
	err error
}

func (r *recordWriter) write(stream string, partial bool, text []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	tag := " F "
	if partial {
		tag = " P "
	}
	b := time.Now().UTC().AppendFormat(r.buf[:0], timeFormat)
	b = append(b, ' ')
	b = append(b, stream...)
	b = append(b, tag...)
	b = append(b, text...)
	b = append(b, '\n')
	if _, err := r.w.Write(b); err != nil && r.err == nil {
		r.err = err
	}
	if cap(b) <= 2*maxLine {
		r.buf = b
	}
}

// copyRecords splits r into lines and writes each as a record. A line longer than
// maxLine, or not ended partialAfter after it began, is written so far as a partial
// record; a full record ends it.
func copyRecords(w *recordWriter, r *os.File, stream string) {
	buf := make([]byte, maxLine)
	n := 0              // buf[:n] is a line not ended yet
	var since time.Time // when it began
	partial := false    // the last record written was partial
	write := func(p bool, text []byte) {
		w.write(stream, p, text)
		partial = p
	}
	for {
		var deadline time.Time
		if n > 0 {
			deadline = since.Add(partialAfter)
		}
		_ = r.SetReadDeadline(deadline) // without deadlines, a line waits for its end
		m, err := r.Read(buf[n:])
		began := n == 0
		data := buf[:n+m]
		for {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				break
			}
			write(false, data[:i])
			data = data[i+1:]
			began = true
		}
		n = copy(buf, data)
		if began {
			since = time.Now()
		}
		if n == len(buf) || (n > 0 && errors.Is(err, os.ErrDeadlineExceeded)) {
			write(true, buf[:n])
			n = 0
		}
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			// EOF or a read error: what is left is the last, unterminated line. An
			// empty full record ends a line written so far as partial records.
			if n > 0 || partial {
				write(false, buf[:n])
			}
			return
		}
	}
}
