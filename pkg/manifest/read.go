package manifest

import (
	"fmt"
	"io"
	"os"
	"syscall"

	"k8s.io/apimachinery/pkg/api/resource"
)

const (
	// DefaultMaxBytes is how much kplay reads of all the files of one run and its
	// standard input together.
	DefaultMaxBytes = 64 << 20
	// MaxFiles is how many files one run reads.
	MaxFiles = 10000
	// MaxStructure bounds the work of parsing one run's files. Parsing costs about
	// 10 µs and 600 bytes per YAML node, so a file of dense keys that fits the byte
	// cap would take a minute and gigabytes. Every node but a document's root is
	// introduced by one of the bytes structureBytes counts (at most a key and its
	// value by one ':'), so their number bounds the nodes at the cost of one pass
	// over the bytes; at the limit, parsing takes about 3.4 s and 200 MB.
	MaxStructure = 1 << 18
)

// structureChars are YAML's and JSON's indicators that start a node: a mapping
// value (':'), a flow entry (',', '[', '{'), a block sequence entry ('-'), an
// explicit key ('?') and an alias ('*').
const structureChars = `: , - [ { ? *`

var structureBytes = [256]bool{':': true, ',': true, '-': true, '[': true, '{': true, '?': true, '*': true}

func countStructure(data []byte) int {
	n := 0
	for _, b := range data {
		if structureBytes[b] {
			n++
		}
	}
	return n
}

// LoadOption changes a limit of Load.
type LoadOption func(*loader)

// MaxBytes sets how many bytes Load reads of each file and of standard input;
// n <= 0 keeps DefaultMaxBytes.
func MaxBytes(n int64) LoadOption {
	return func(l *loader) {
		if n > 0 {
			l.maxBytes = n
		}
	}
}

// FormatBytes shows a byte count as the --max-manifest-size flag takes it: 64Mi.
func FormatBytes(n int64) string {
	return resource.NewQuantity(n, resource.BinarySI).String()
}

// ParseBytes reads a size in bytes or with a Kubernetes binary or decimal suffix
// (64Mi, 100M). It must be at least one byte.
func ParseBytes(s string) (int64, error) {
	q, err := resource.ParseQuantity(s)
	if err != nil || q.Sign() <= 0 {
		return 0, fmt.Errorf("invalid size %q: use a number of bytes or a quantity such as 64Mi", s)
	}
	n, ok := q.AsInt64()
	if !ok {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return n, nil
}

// readAll reads r up to the byte cap. It reads one byte more than the cap, so a
// device or an endless stream stops there.
func (l *loader) readAll(name string, r io.Reader) ([]byte, bool) {
	left := l.maxBytes - l.read
	data, err := io.ReadAll(io.LimitReader(r, left+1))
	if err != nil {
		l.errorf("%s: reading: %v", name, err)
		return nil, false
	}
	if int64(len(data)) > left {
		l.tooLarge(name)
		return nil, false
	}
	l.read += int64(len(data))
	return data, true
}

// tooLarge reports the file that takes the run past the byte cap, which holds for
// all of a run's files together: many files just under it would add up.
func (l *loader) tooLarge(name string) {
	l.errorf("%s: larger than %s: kplay reads at most %s of manifests per run (--max-manifest-size)",
		name, FormatBytes(l.maxBytes), FormatBytes(l.maxBytes))
	l.read = l.maxBytes + 1 // nothing more is read
}

// readFile reads a regular file. Anything else (a FIFO, a device, a socket) is
// refused: it may never end or never start. O_NONBLOCK keeps the open of a FIFO
// from waiting for a writer; the type is checked on the opened file, so the
// path cannot be swapped between the check and the read.
func (l *loader) readFile(path string) ([]byte, bool) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		l.errs = append(l.errs, err.Error())
		return nil, false
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		l.errs = append(l.errs, err.Error())
		return nil, false
	}
	if !info.Mode().IsRegular() {
		l.errorf("%s: not a regular file (%s): -f reads files and directories; pipe anything else to -f -", path, fileType(info.Mode()))
		return nil, false
	}
	if info.Size() > l.maxBytes-l.read {
		l.tooLarge(path)
		return nil, false
	}
	return l.readAll(path, f)
}

func fileType(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "a FIFO"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a block device"
	}
	return m.Type().String()
}

// spend takes a file's structure from the run's budget, and reports the file
// that exceeds it.
func (l *loader) spend(name string, data []byte) bool {
	if l.structure > MaxStructure {
		return false // reported with the file that crossed the limit
	}
	l.structure += countStructure(data)
	if l.structure > MaxStructure {
		l.errorf("%s: too many YAML nodes: kplay parses at most %d keys, list items and other nodes per run "+
			"(it counts the characters %s that start them)", name, MaxStructure, structureChars)
		return false
	}
	if err := checkAliases(data, l.maxBytes, MaxStructure); err != nil {
		l.errorf("%s: %v", name, err)
		l.structure = MaxStructure + 1 // nothing more of this run is parsed
		return false
	}
	return true
}
