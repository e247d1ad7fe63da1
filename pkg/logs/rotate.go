package logs

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Rotation bounds a container's log files as the kubelet's containerLogMaxSize and
// containerLogMaxFiles do: the driver starts a new file before one would grow past
// MaxSize, renaming the full one to <name>.log.<timestamp>, and keeps MaxFiles files,
// the current one included.
type Rotation struct {
	MaxSize  int64
	MaxFiles int
}

// DefaultRotation is the kubelet's default. Drivers started from a log URI without
// rotation settings (pods of an older kplay) use it too.
var DefaultRotation = Rotation{MaxSize: 10 << 20, MaxFiles: 5}

// Validate checks the settings as the kubelet does: a positive size and at least one
// rotated file besides the current one.
func (r Rotation) Validate() error {
	if r.MaxSize <= 0 {
		return fmt.Errorf("log max size %d: must be positive", r.MaxSize)
	}
	if r.MaxFiles < 2 {
		return fmt.Errorf("log max files %d: must be at least 2 (the current file and one rotated file)", r.MaxFiles)
	}
	return nil
}

// rotatedSuffix is the timestamp of a rotated file: the kubelet's format with
// nanoseconds, so names are unique and sort in the order the files were written.
const rotatedSuffix = "20060102-150405.000000000"

// rotatedFiles lists the rotated files of the log at path, oldest first.
func rotatedFiles(path string) []string {
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		return nil
	}
	prefix := filepath.Base(path) + "."
	var names []string
	for _, e := range entries {
		suffix, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		if _, err := time.Parse(rotatedSuffix, suffix); err == nil {
			names = append(names, filepath.Join(filepath.Dir(path), e.Name()))
		}
	}
	sort.Strings(names)
	return names
}

// logFile is the driver's output: it rotates between records, so a record is never
// split across files, lost or written twice.
type logFile struct {
	path string
	rot  Rotation
	f    *os.File
	size int64
	last time.Time // of the newest rotated file, so names keep increasing if the clock steps back
}

// openLog starts the log of a new run of the container: the last file of the run
// before becomes Previous(path), its rotated files go.
func openLog(path string, rot Rotation) (*logFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, err
	}
	for _, name := range rotatedFiles(path) {
		if err := os.Remove(name); err != nil {
			return nil, err
		}
	}
	if st, err := os.Stat(path); err == nil && st.Size() > 0 {
		if err := os.Rename(path, Previous(path)); err != nil {
			return nil, err
		}
	}
	l := &logFile{path: path, rot: rot}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *logFile) open() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	l.f, l.size = f, st.Size()
	return nil
}

// Write writes one record, first rotating if it would make the file outgrow MaxSize.
// A failed rotation keeps writing to the file it has: a line is worth more than the limit.
func (l *logFile) Write(b []byte) (int, error) {
	if l.size > 0 && l.size+int64(len(b)) > l.rot.MaxSize {
		_ = l.rotate()
	}
	n, err := l.f.Write(b)
	l.size += int64(n)
	return n, err
}

func (l *logFile) rotate() error {
	now := time.Now().UTC()
	if !now.After(l.last) {
		now = l.last.Add(time.Nanosecond)
	}
	if err := os.Rename(l.path, l.path+"."+now.Format(rotatedSuffix)); err != nil {
		return err
	}
	l.last = now
	old := l.f
	if err := l.open(); err != nil {
		return err // keeps writing to old, now the newest rotated file
	}
	old.Close()
	rotated := rotatedFiles(l.path)
	for len(rotated) > l.rot.MaxFiles-1 {
		os.Remove(rotated[0])
		rotated = rotated[1:]
	}
	return nil
}

func (l *logFile) Close() error { return l.f.Close() }
