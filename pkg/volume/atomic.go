package volume

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/kplay-dev/kplay/pkg/plan"
)

// The kubelet's atomic writer layout: the files live in a timestamped directory,
// `..data` points at it, and each top-level name is a symlink through `..data`.
// Replacing `..data` with one rename switches every file at once.
const dataLink = "..data"

// writeAtomic makes dir hold exactly files. Nothing changes when it already does.
// Every operation goes through os.Root, so a symlink planted in the volume by a
// container can never make kplay write outside it.
func writeAtomic(dir string, files []plan.File) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()

	old, _ := root.Readlink(dataLink)
	if old != "" && sameContent(root, old, files) {
		return linkTopLevel(root, files)
	}
	ts, err := newTimestampDir(root)
	if err != nil {
		return err
	}
	for _, f := range files {
		name := path.Join(ts, f.Path)
		if err := root.MkdirAll(path.Dir(name), 0o755); err != nil {
			return err
		}
		// O_EXCL: the directory is new, anything already there was not made by us.
		w, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fs.FileMode(f.Mode))
		if err != nil {
			return err
		}
		_, err = w.Write(f.Data)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("writing %s: %w", f.Path, err)
		}
		// The umask must not narrow the planned mode.
		if err := root.Chmod(name, fs.FileMode(f.Mode)); err != nil {
			return err
		}
	}
	tmp := dataLink + "_tmp"
	if err := root.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := root.Symlink(ts, tmp); err != nil {
		return err
	}
	if err := root.Rename(tmp, dataLink); err != nil {
		return err
	}
	if err := linkTopLevel(root, files); err != nil {
		return err
	}
	if old != "" && strings.HasPrefix(old, "..") && !strings.Contains(old, "/") && old != ts {
		if err := root.RemoveAll(old); err != nil {
			return err
		}
	}
	return nil
}

func newTimestampDir(root *os.Root) (string, error) {
	for i := 0; ; i++ {
		ts := time.Now().UTC().Format("..2006_01_02_15_04_05.000000000")
		err := root.Mkdir(ts, 0o755)
		if err == nil {
			return ts, nil
		}
		if !errors.Is(err, os.ErrExist) || i > 100 {
			return "", err
		}
	}
}

// linkTopLevel points every top-level name of files through ..data and removes
// top-level links no longer needed. Whatever else sits at one of those names
// (a planted symlink or file) is replaced, never followed.
func linkTopLevel(root *os.Root, files []plan.File) error {
	want := map[string]bool{}
	for _, f := range files {
		want[strings.SplitN(f.Path, "/", 2)[0]] = true
	}
	entries, err := fs.ReadDir(root.FS(), ".")
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, "..") || want[name] {
			continue
		}
		if target, err := root.Readlink(name); err == nil && strings.HasPrefix(target, dataLink+"/") {
			if err := root.Remove(name); err != nil {
				return err
			}
		}
	}
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		target := path.Join(dataLink, name)
		if have, err := root.Readlink(name); err == nil && have == target {
			continue
		}
		if err := root.RemoveAll(name); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := root.Symlink(target, name); err != nil {
			return err
		}
	}
	return nil
}

// sameContent reports whether the timestamped directory ts holds exactly files.
func sameContent(root *os.Root, ts string, files []plan.File) bool {
	if strings.Contains(ts, "/") {
		return false
	}
	count := 0
	err := fs.WalkDir(root.FS(), ts, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			count++
		}
		return err
	})
	if err != nil || count != len(files) {
		return false
	}
	for _, f := range files {
		name := path.Join(ts, f.Path)
		st, err := root.Lstat(name)
		if err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != fs.FileMode(f.Mode).Perm() {
			return false
		}
		data, err := root.ReadFile(name)
		if err != nil || !bytes.Equal(data, f.Data) {
			return false
		}
	}
	return true
}
