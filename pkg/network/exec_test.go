package network

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The plugins' answers and errors reach libcni as they did through its own exec.
func TestPluginExecReportsThePluginsAnswerAndError(t *testing.T) {
	dir := t.TempDir()
	plugin := func(name, script string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return path
	}
	e := &pluginExec{}
	out, err := e.ExecPlugin(context.Background(), plugin("ok", `cat; echo '{"x":1}'`), []byte("in "), nil)
	if err != nil || string(out) != "in {\"x\":1}\n" {
		t.Errorf("a plugin that answers: %q, %v", out, err)
	}
	for _, c := range []struct{ script, want string }{
		{`echo '{"code":11,"msg":"could not teardown ipv4 dnat"}'; exit 1`, "could not teardown ipv4 dnat"},
		{`echo oops >&2; exit 1`, `netplugin failed: "oops\n": exit status 1`},
		{`exit 3`, "netplugin failed with no error message: exit status 3"},
		{`echo not json; exit 1`, "error parsing its diagnostic message"},
	} {
		_, err := e.ExecPlugin(context.Background(), plugin("fail", c.script), nil, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("plugin %q: error %v, want one containing %q", c.script, err, c.want)
		}
	}
}
