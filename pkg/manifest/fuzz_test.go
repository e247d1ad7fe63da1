package manifest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary bytes through Load and Validate as standard input.
// Neither may panic, and a document that loads must validate without panicking.
func FuzzLoad(f *testing.F) {
	for _, pattern := range []string{"../../testdata/*/*.yaml", "../../testdata/*/*.json", "../../testdata/load/dir/*"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, _, err := Load([]string{"-"}, bytes.NewReader(data))
		if err != nil {
			return
		}
		Validate(objs)
	})
}
