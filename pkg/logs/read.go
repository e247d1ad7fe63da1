package logs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/containerd/errdefs"
)

// ReadOptions are the `kplay logs` flags.
type ReadOptions struct {
	Follow bool
	// Tail is how many lines from the end to print; negative prints all.
	Tail int
	// Timestamps prefixes each line with its RFC3339Nano time, as kubectl does.
	Timestamps bool
	// Since drops lines older than this; zero keeps all.
	Since time.Time
	// Running, when set, ends Follow once it returns false (the container exited)
	// and what was written up to then has been printed.
	Running func() bool
	// PollInterval is how often Follow looks for new lines; zero means 250ms.
	PollInterval time.Duration
}

// Read prints the container log at path: lines the container wrote to stdout go to
// stdout, lines it wrote to stderr go to stderr. A nil stderr merges both into
// stdout in the order they were written, which is what kubectl shows.
func Read(ctx context.Context, path string, opts ReadOptions, stdout, stderr io.Writer) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no log at %s (the container has not started yet, or has no previous run): %w", path, errdefs.ErrNotFound)
	}
	if err != nil {
		return err
	}
	defer func() { f.Close() }()

	p := &printer{stdout: bufio.NewWriter(stdout), opts: opts}
	p.stderr = p.stdout
	if stderr != nil {
		p.stderr = bufio.NewWriter(stderr)
	}
	rd := &recordReader{r: f}
	if opts.Tail >= 0 {
		var last []line
		for {
			rec, ok := rd.next()
			if !ok {
				break
			}
			if line, ok := p.join(rec); ok && p.keep(line) {
				last = append(last, line)
				if len(last) > opts.Tail {
					last = last[1:]
				}
			}
		}
		for _, line := range last {
			p.print(line)
		}
	}
	if err := p.drain(rd); err != nil || !opts.Follow {
		return errors.Join(err, rd.err)
	}

	interval := opts.PollInterval
	if interval == 0 {
		interval = 250 * time.Millisecond
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		// Check before draining so lines written before the exit are all printed.
		finished := opts.Running != nil && !opts.Running()
		if err := p.drain(rd); err != nil {
			return err
		}
		if finished {
			return nil
		}
		// A restart moves this file to Previous(path) and starts a new one: finish the
		// old file (done above) and continue with the new one.
		if replaced(f, path) {
			nf, err := os.Open(path)
			if err == nil {
				f.Close()
				f = nf
				rd = &recordReader{r: f}
				continue
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

func replaced(f *os.File, path string) bool {
	have, err1 := f.Stat()
	now, err2 := os.Stat(path)
	return err1 == nil && err2 == nil && !os.SameFile(have, now)
}

// record is one parsed line of a CRI log file.
type record struct {
	time    []byte
	stderr  bool
	partial bool
	text    []byte
}

// recordReader reads records, holding back a last line not yet terminated (the
// driver may be in the middle of writing it).
type recordReader struct {
	r    io.Reader
	buf  []byte
	rest []byte
	err  error
}

func (rd *recordReader) next() (record, bool) {
	for {
		if i := bytes.IndexByte(rd.rest, '\n'); i >= 0 {
			line := rd.rest[:i]
			rd.rest = rd.rest[i+1:]
			if rec, ok := parseRecord(line); ok {
				return rec, true
			}
			continue
		}
		if rd.buf == nil {
			rd.buf = make([]byte, 64*1024)
		}
		n, err := rd.r.Read(rd.buf)
		if n > 0 {
			rd.rest = append(append([]byte(nil), rd.rest...), rd.buf[:n]...)
			continue
		}
		if err != nil && err != io.EOF {
			rd.err = err
		}
		return record{}, false
	}
}

// parseRecord splits "TIME STREAM TAG TEXT". A line not in that format is kept as text.
func parseRecord(line []byte) (record, bool) {
	fields := bytes.SplitN(line, []byte{' '}, 4)
	if len(fields) < 4 || (string(fields[2]) != "F" && string(fields[2]) != "P") {
		return record{text: line}, true
	}
	return record{time: fields[0], stderr: string(fields[1]) == "stderr", partial: string(fields[2]) == "P", text: fields[3]}, true
}

// line is one log line, its partial records joined.
type line struct {
	stamp  string // of its first record
	stderr bool
	text   []byte
}

// printer joins partial records into lines and prints them.
type printer struct {
	stdout, stderr *bufio.Writer
	opts           ReadOptions
	pending        *line // the line being assembled from partial records
}

// join adds rec to the line being assembled and returns the line once complete.
func (p *printer) join(rec record) (line, bool) {
	if p.pending == nil {
		p.pending = &line{stamp: string(rec.time), stderr: rec.stderr}
	}
	p.pending.text = append(p.pending.text, rec.text...)
	if rec.partial {
		return line{}, false
	}
	l := *p.pending
	p.pending = nil
	return l, true
}

func (p *printer) keep(l line) bool {
	if p.opts.Since.IsZero() {
		return true
	}
	t, err := time.Parse(time.RFC3339Nano, l.stamp)
	return err != nil || !t.Before(p.opts.Since)
}

func (p *printer) print(l line) {
	w := p.stdout
	if l.stderr {
		w = p.stderr
	}
	if p.opts.Timestamps {
		stamp := l.stamp
		if t, err := time.Parse(time.RFC3339Nano, stamp); err == nil {
			stamp = t.UTC().Format(time.RFC3339Nano)
		}
		w.WriteString(stamp)
		w.WriteByte(' ')
	}
	w.Write(l.text)
	w.WriteByte('\n')
}

// drain prints every complete record available now and flushes.
func (p *printer) drain(rd *recordReader) error {
	for {
		rec, ok := rd.next()
		if !ok {
			break
		}
		if l, ok := p.join(rec); ok && p.keep(l) {
			p.print(l)
		}
	}
	return errors.Join(p.stdout.Flush(), p.stderr.Flush())
}
