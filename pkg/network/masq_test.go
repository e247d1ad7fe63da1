package network

import (
	"reflect"
	"testing"
)

func TestSplitRule(t *testing.T) {
	for line, want := range map[string][]string{
		`CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \"kplay\" id: \"kplay_default_web\"" -m multiport --dports 8080 -j CNI-DN-1234`: {
			"CNI-HOSTPORT-DNAT", "-p", "tcp", "-m", "comment", "--comment", `dnat name: "kplay" id: "kplay_default_web"`,
			"-m", "multiport", "--dports", "8080", "-j", "CNI-DN-1234"},
		`CNI-FORWARD -s 10.213.0.6/32 -j ACCEPT`:   {"CNI-FORWARD", "-s", "10.213.0.6/32", "-j", "ACCEPT"},
		`POSTROUTING -m comment --comment "" -j X`: {"POSTROUTING", "-m", "comment", "--comment", "", "-j", "X"},
	} {
		if got := splitRule(line); !reflect.DeepEqual(got, want) {
			t.Errorf("splitRule(%s)\n got %q\nwant %q", line, got, want)
		}
	}
}
