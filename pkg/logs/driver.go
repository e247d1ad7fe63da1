// Package logs writes container output to files in the CRI log format, from a
// logger process the containerd shim runs, and reads them back like `kubectl logs`.
package logs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// DriverArg is the first argument of the log driver process. The shim turns each
// query parameter of a binary:// log URI into "key value" arguments, in random map
// order, so the URI carries exactly one: DriverArg=<log path>.
const DriverArg = "--kplay-log-driver"

// maxLine is the longest line written as one record; longer lines are split into
// partial (P) records, as the kubelet does.
const maxLine = 16 * 1024

// timeFormat is the CRI log timestamp: fixed width so files sort and parse simply.
const timeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// LogURI is the stdout/stderr URI for a task (cio.LogURI) that makes the shim run
// binary, a stable kplay executable, as the log driver writing to path.
func LogURI(binary, path string) (*url.URL, error) {
	if !filepath.IsAbs(binary) || !filepath.IsAbs(path) {
		return nil, fmt.Errorf("log driver %q and log file %q must be absolute paths", binary, path)
	}
	return &url.URL{
		Scheme:   "binary",
		Path:     binary,
		RawQuery: url.Values{DriverArg: {path}}.Encode(),
	}, nil
}

// DriverInvocation reports whether args start the log driver, and for which file.
func DriverInvocation(args []string) (path string, ok bool) {
	if len(args) == 3 && args[1] == DriverArg {
		return args[2], true
	}
	return "", false
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

// RunDriver is the log driver process. It copies both pipes to path until they
// close; a file left by an earlier run of the container moves to Previous(path).
// Its own errors have nowhere to go (the shim discards its output), so they only
// decide the exit code.
func RunDriver(path string) int {
	debug.SetGCPercent(20)
	stdout := os.NewFile(stdoutFD, "stdout")
	stderr := os.NewFile(stderrFD, "stderr")
	ready := os.NewFile(readyFD, "ready")
	var out io.Writer = io.Discard
	f, openErr := openLog(path)
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
		r      io.Reader
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

func openLog(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, err
	}
	if st, err := os.Stat(path); err == nil && st.Size() > 0 {
		if err := os.Rename(path, Previous(path)); err != nil {
			return nil, err
		}
	}
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
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

// copyRecords splits r into lines and writes each as a record; lines longer than
// maxLine become partial records followed by a full one.
func copyRecords(w *recordWriter, r io.Reader, stream string) {
	br := bufio.NewReaderSize(r, maxLine)
	for {
		line, err := br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			w.write(stream, true, line)
			continue
		case err == nil:
			w.write(stream, false, line[:len(line)-1])
			continue
		}
		// EOF or a read error: what is left is the last, unterminated line.
		if len(line) > 0 {
			w.write(stream, false, line)
		}
		return
	}
}
