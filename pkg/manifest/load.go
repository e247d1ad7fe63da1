package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"sigs.k8s.io/yaml"
)

// manifestExts are the file names Load reads from a directory, as kubectl does.
var manifestExts = map[string]bool{".yaml": true, ".yml": true, ".json": true}

// Load reads every path (file, directory or "-" for stdin) and decodes its documents.
// It returns the supported objects in file and document order, one warning line per
// ignored object, and an error listing every problem of every file at once. The
// objects are those that decoded, even when there is an error, so that the
// caller can validate them and report their problems too.
// A file larger than the byte cap (MaxBytes) or that is not a regular file is an
// error, and so is more structure than MaxStructure in all files together.
func Load(paths []string, stdin io.Reader, opts ...LoadOption) ([]Object, []string, error) {
	l := loader{maxBytes: DefaultMaxBytes}
	for _, o := range opts {
		o(&l)
	}
	usedStd := false
	for _, p := range paths {
		if p == "-" {
			if usedStd {
				l.errorf("-: standard input can be read only once")
				continue
			}
			usedStd = true
			l.loadStdin(stdin)
			continue
		}
		files, err := expand(p)
		if err != nil {
			l.errs = append(l.errs, err.Error())
			continue
		}
		for _, f := range files {
			if l.files++; l.files > MaxFiles {
				l.errorf("%s: kplay reads at most %d files per run", f, MaxFiles)
				break
			}
			l.loadFile(f)
		}
	}
	if len(l.errs) > 0 {
		return l.objs, l.warnings, invalid(l.errs)
	}
	return l.objs, l.warnings, nil
}

// loader accumulates what Load finds so that one run reports every problem.
type loader struct {
	objs     []Object
	warnings []string
	errs     []string

	maxBytes  int64
	read      int64 // bytes of the run read so far
	files     int
	structure int // what the files read so far spent of MaxStructure
}

func (l *loader) errorf(format string, args ...any) {
	l.errs = append(l.errs, fmt.Sprintf(format, args...))
}

func (l *loader) warnf(format string, args ...any) {
	l.warnings = append(l.warnings, fmt.Sprintf(format, args...))
}

// expand turns a -f argument into the files it names: itself, or a directory's
// manifests sorted by name (not recursive).
func expand(path string) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		if manifestExts[filepath.Ext(e.Name())] && !e.IsDir() {
			files = append(files, filepath.Join(path, e.Name()))
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: directory has no .yaml, .yml or .json files", path)
	}
	sort.Strings(files)
	return files, nil
}

func (l *loader) loadStdin(stdin io.Reader) {
	dir, err := os.Getwd()
	if err != nil {
		l.errorf("-: %v", err)
		return
	}
	if stdin == nil {
		stdin = bytes.NewReader(nil)
	}
	if data, ok := l.readAll(sourceName("-"), stdin); ok {
		l.loadData("-", dir, data)
	}
}

func (l *loader) loadFile(path string) {
	abs, err := filepath.Abs(path)
	if err != nil {
		l.errorf("%s: %v", path, err)
		return
	}
	if data, ok := l.readFile(path); ok {
		l.loadData(path, filepath.Dir(abs), data)
	}
}

// loadData decodes every document of one file.
func (l *loader) loadData(source, dir string, data []byte) {
	if !l.spend(sourceName(source), data) {
		return
	}
	docs, err := splitDocuments(data)
	if err != nil {
		l.errorf("%s: %v", sourceName(source), err)
		return
	}
	n := 0
	for _, d := range docs {
		if d.err != nil {
			n++
			l.errorf("%s: %v", Object{Source: source, Doc: n}.Where(), d.err)
			continue
		}
		if isEmptyDocument(d.json) {
			continue
		}
		n++
		l.decode(Object{Source: source, Dir: dir, Doc: n}, d.json, 0)
	}
	if n == 0 {
		l.warnf("%s: no Kubernetes objects in this file", sourceName(source))
	}
}

// document is one document of a file, already converted to JSON.
type document struct {
	json []byte
	err  error // a syntax error, with file line numbers
}

func isEmptyDocument(j []byte) bool {
	j = bytes.TrimSpace(j)
	return len(j) == 0 || bytes.Equal(j, []byte("null"))
}

// splitDocuments splits a file into documents. A file whose first character is '{'
// is a stream of JSON objects; anything else is YAML, split at "---" marker lines.
func splitDocuments(data []byte) ([]document, error) {
	if trimmed := bytes.TrimLeft(data, " \t\r\n"); len(trimmed) > 0 && trimmed[0] == '{' {
		return splitJSON(data), nil
	}
	return splitYAML(data), nil
}

func splitJSON(data []byte) []document {
	var docs []document
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			return docs
		}
		if err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				err = fmt.Errorf("line %d: %v", lineAt(data, se.Offset), err)
			}
			return append(docs, document{err: err})
		}
		docs = append(docs, document{json: raw})
	}
}

func lineAt(data []byte, offset int64) int {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	return bytes.Count(data[:offset], []byte("\n")) + 1
}

// splitYAML cuts the file before every document marker line ("---" alone or
// followed by a space, tab or comment) and converts each document to JSON.
// Keeping the marker in the document lets the YAML parser read "--- {a: 1}",
// and keeps its line numbers a fixed offset from the file's.
func splitYAML(data []byte) []document {
	var (
		docs  []document
		start = 0 // byte offset of the current document
		first = 1 // file line of the current document's first line
		line  = 1
	)
	flush := func(end int) {
		docs = append(docs, yamlDocument(data[start:end], first))
	}
	for off := 0; off < len(data); {
		next := bytes.IndexByte(data[off:], '\n')
		if next < 0 {
			next = len(data)
		} else {
			next += off + 1
		}
		if isDocumentMarker(data[off:next]) && off > start {
			flush(off)
			start, first = off, line
		}
		off = next
		line++
	}
	if start < len(data) {
		flush(len(data))
	}
	return docs
}

func isDocumentMarker(line []byte) bool {
	if !bytes.HasPrefix(line, []byte("---")) {
		return false
	}
	rest := line[3:]
	return len(rest) == 0 || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\r' || rest[0] == '\n'
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// yamlDocument converts one YAML document to JSON. Duplicate keys are errors,
// as they are for kubectl's strict decoding.
func yamlDocument(data []byte, firstLine int) document {
	j, err := yaml.YAMLToJSONStrict(data)
	if err == nil {
		return document{json: j}
	}
	msg := strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
	msg = strings.TrimPrefix(msg, "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n")
	msg = strings.Join(strings.Fields(msg), " ")
	msg = yamlLine.ReplaceAllStringFunc(msg, func(m string) string {
		n, _ := strconv.Atoi(strings.TrimPrefix(m, "line "))
		return fmt.Sprintf("line %d", n+firstLine-1)
	})
	return document{err: fmt.Errorf("invalid YAML: %s", msg)}
}

// sourceName is how messages name a source: stdin has no file name.
func sourceName(source string) string {
	if source == "-" {
		return "stdin"
	}
	return source
}

// invalidError is bad input: every line is one problem. It unwraps to
// errdefs.ErrInvalidArgument so the CLI exits 2 without adding to the text.
type invalidError struct{ lines []string }

func invalid(lines []string) error { return &invalidError{lines: lines} }

func (e *invalidError) Error() string { return strings.Join(e.lines, "\n") }
func (e *invalidError) Unwrap() error { return errdefs.ErrInvalidArgument }
