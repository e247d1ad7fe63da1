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
		p.tail(rd, opts.Tail)
	}
	p.drain(rd)
	if !opts.Follow {
		// A line still without its end is the last one there is: print it.
		p.finish()
		return errors.Join(p.flush(), rd.err)
	}

	interval := opts.PollInterval
	if interval == 0 {
		interval = 250 * time.Millisecond
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	var exited time.Time
	for {
		// Check before draining so lines written before the exit are all printed, and
		// give the driver time to write a last line without a newline.
		if exited.IsZero() && opts.Running != nil && !opts.Running() {
			exited = time.Now()
		}
		// The driver writes nothing more to a file once another one is at path, so
		// look first, then read this file to its end and go on with the next.
		moved := replaced(f, path)
		p.drain(rd)
		if moved {
			if next, continued, err := openNext(path, f); err == nil {
				f.Close()
				f = next
				rd = &recordReader{r: f}
				if !continued { // a new run of the container, or files gone unread
					p.finish()
				}
				continue
			}
		}
		if !exited.IsZero() && time.Since(exited) >= 2*partialAfter {
			p.finish()
			return p.flush()
		}
		p.printPartial()
		if err := p.flush(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// openNext opens the file written after f, which is no longer the one at path: the
// next rotated file, or path. continued is false if f is not among the rotated files
// (it became Previous(path) in a restart, or was deleted unread): then it opens the
// oldest there is.
func openNext(path string, f *os.File) (next *os.File, continued bool, err error) {
	have, err := f.Stat()
	if err != nil {
		return nil, false, err
	}
	successor := func() (string, bool) {
		rotated := rotatedFiles(path)
		for i, name := range rotated {
			if st, err := os.Stat(name); err == nil && os.SameFile(have, st) {
				if i+1 < len(rotated) {
					return rotated[i+1], true
				}
				return path, true
			}
		}
		if len(rotated) > 0 {
			return rotated[0], false
		}
		return path, false
	}
	for {
		name, continued := successor()
		next, err := os.Open(name)
		if err != nil {
			return nil, false, err
		}
		// The driver may have rotated again since the listing, putting a file between
		// f and the one at path: then look again.
		st, err1 := next.Stat()
		again, _ := successor()
		now, err2 := os.Stat(again)
		if err1 == nil && err2 == nil && os.SameFile(st, now) {
			return next, continued, nil
		}
		next.Close()
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
	shown  int  // bytes of text printed before the line ended (by printPartial)
	hidden bool // cut by --tail before it ended
}

// printer joins partial records into lines and prints them.
type printer struct {
	stdout, stderr *bufio.Writer
	opts           ReadOptions
	pending        [2]*line // per stream (stdout, stderr): the line being assembled
}

func streamIndex(stderr bool) int {
	if stderr {
		return 1
	}
	return 0
}

// join adds rec to the line being assembled on its stream and returns the line once
// complete.
func (p *printer) join(rec record) (line, bool) {
	slot := &p.pending[streamIndex(rec.stderr)]
	if *slot == nil {
		*slot = &line{stamp: string(rec.time), stderr: rec.stderr}
	}
	(*slot).text = append((*slot).text, rec.text...)
	if rec.partial {
		return line{}, false
	}
	l := **slot
	*slot = nil
	return l, true
}

// unended is the lines not complete yet, in the order they began.
func (p *printer) unended() []*line {
	var ls []*line
	for _, l := range p.pending {
		if l != nil {
			ls = append(ls, l)
		}
	}
	if len(ls) == 2 && ls[1].stamp < ls[0].stamp {
		ls[0], ls[1] = ls[1], ls[0]
	}
	return ls
}

// tail prints the last n lines in rd, counting lines not ended yet; those are
// printed later, by printPartial or finish.
func (p *printer) tail(rd *recordReader, n int) {
	var last []*line
	for {
		rec, ok := rd.next()
		if !ok {
			break
		}
		if l, ok := p.join(rec); ok && p.keep(l) {
			last = append(last, &l)
			if len(last) > n {
				last = last[1:]
			}
		}
	}
	for _, l := range p.unended() {
		if p.keep(*l) {
			last = append(last, l)
		}
	}
	for len(last) > n {
		last[0].hidden = true
		last = last[1:]
	}
	for _, l := range last {
		if l != p.pending[streamIndex(l.stderr)] {
			p.print(*l)
		}
	}
}

func (p *printer) keep(l line) bool {
	if l.hidden {
		return false
	}
	if p.opts.Since.IsZero() {
		return true
	}
	t, err := time.Parse(time.RFC3339Nano, l.stamp)
	return err != nil || !t.Before(p.opts.Since)
}

// write prints what of l is not printed yet, with its timestamp if it is the start.
func (p *printer) write(l *line) {
	w := p.stdout
	if l.stderr {
		w = p.stderr
	}
	if p.opts.Timestamps && l.shown == 0 {
		stamp := l.stamp
		if t, err := time.Parse(time.RFC3339Nano, stamp); err == nil {
			stamp = t.UTC().Format(time.RFC3339Nano)
		}
		w.WriteString(stamp)
		w.WriteByte(' ')
	}
	w.Write(l.text[l.shown:])
	l.shown = len(l.text)
}

func (p *printer) print(l line) {
	if !p.keep(l) {
		return
	}
	p.write(&l)
	w := p.stdout
	if l.stderr {
		w = p.stderr
	}
	w.WriteByte('\n')
}

// printPartial prints what there is of lines not ended yet, as a terminal would show
// it; the rest follows when it is written.
func (p *printer) printPartial() {
	for _, l := range p.unended() {
		if p.keep(*l) && len(l.text) > l.shown {
			p.write(l)
		}
	}
}

// finish ends the lines not ended yet: nothing more will be added to them.
func (p *printer) finish() {
	for _, l := range p.unended() {
		p.print(*l)
	}
	p.pending = [2]*line{}
}

// drain prints every complete line available now.
func (p *printer) drain(rd *recordReader) {
	for {
		rec, ok := rd.next()
		if !ok {
			return
		}
		if l, ok := p.join(rec); ok {
			p.print(l)
		}
	}
}

func (p *printer) flush() error {
	return errors.Join(p.stdout.Flush(), p.stderr.Flush())
}
