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
	// Done, when set, ends Follow once it returns true (the container exited) and
	// what was written up to then has been printed.
	Done func() bool
	// PollInterval is how often Follow looks for new lines; zero means 250ms.
	PollInterval time.Duration
}

// Read prints the container log at path to w. As with kubectl, stdout and stderr
// lines are merged into one stream in the order they were written.
func Read(ctx context.Context, path string, opts ReadOptions, w io.Writer) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no log at %s (the container has not started yet, or has no previous run): %w", path, errdefs.ErrNotFound)
	}
	if err != nil {
		return err
	}
	defer func() { f.Close() }()

	p := &printer{w: bufio.NewWriter(w), opts: opts}
	rd := &recordReader{r: f}
	if opts.Tail >= 0 {
		var last [][]byte
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
		finished := opts.Done != nil && opts.Done()
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
	return record{time: fields[0], partial: string(fields[2]) == "P", text: fields[3]}, true
}

// printer joins partial records into lines and prints them.
type printer struct {
	w       *bufio.Writer
	opts    ReadOptions
	pending []byte // text of partial records so far
	stamp   []byte // time of the first record of the pending line
}

// join adds rec to the line being assembled and returns the finished line, if any,
// as "TIME TEXT".
func (p *printer) join(rec record) ([]byte, bool) {
	if p.pending == nil {
		p.stamp = append(p.stamp[:0], rec.time...)
	}
	p.pending = append(p.pending, rec.text...)
	if rec.partial {
		return nil, false
	}
	line := make([]byte, 0, len(p.stamp)+1+len(p.pending))
	line = append(append(append(line, p.stamp...), ' '), p.pending...)
	p.pending = nil
	return line, true
}

func (p *printer) keep(line []byte) bool {
	if p.opts.Since.IsZero() {
		return true
	}
	stamp, _, _ := bytes.Cut(line, []byte{' '})
	t, err := time.Parse(time.RFC3339Nano, string(stamp))
	return err != nil || !t.Before(p.opts.Since)
}

func (p *printer) print(line []byte) {
	stamp, text, _ := bytes.Cut(line, []byte{' '})
	if p.opts.Timestamps {
		if t, err := time.Parse(time.RFC3339Nano, string(stamp)); err == nil {
			stamp = t.UTC().AppendFormat(nil, time.RFC3339Nano)
		}
		p.w.Write(stamp)
		p.w.WriteByte(' ')
	}
	p.w.Write(text)
	p.w.WriteByte('\n')
}

// drain prints every complete record available now and flushes.
func (p *printer) drain(rd *recordReader) error {
	for {
		rec, ok := rd.next()
		if !ok {
			break
		}
		if line, ok := p.join(rec); ok && p.keep(line) {
			p.print(line)
		}
	}
	return p.w.Flush()
}
