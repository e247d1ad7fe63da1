package main

import (
	"encoding/json"
	"fmt"
	"io"

	"sigs.k8s.io/yaml"
)

// printObject writes obj as YAML or JSON, the way kubectl's -o does.
func printObject(w io.Writer, format string, obj any) error {
	switch format {
	case "yaml":
		b, err := yaml.Marshal(obj)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	case "json":
		b, err := json.MarshalIndent(obj, "", "    ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	return usageError{fmt.Errorf("unknown output format %q: use yaml or json", format)}
}
