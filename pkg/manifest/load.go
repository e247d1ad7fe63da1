package manifest

import (
	"errors"
	"io"
)

// Load reads every path (file, directory or "-" for stdin) and decodes its documents.
func Load(paths []string, stdin io.Reader) ([]Object, []string, error) {
	return nil, nil, errors.New("not implemented")
}

// Validate checks objects the way the API server would, reporting every error at once.
func Validate(objs []Object) error { return errors.New("not implemented") }
