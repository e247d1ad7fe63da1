package systemd

import (
	"strings"
	"testing"
)

func TestUnitRunsUpAfterContainerdAndDownOnStop(t *testing.T) {
	u := Unit(Options{
		Binary:  "/usr/local/bin/kplay",
		Files:   []string{"/srv/app.yaml", "/srv/my apps/db.yaml"},
		Flags:   []string{"--hosts-dir=/etc/kplay/certs.d"},
		Timeout: "5m",
	})
	for _, want := range []string{
		"After=network-online.target containerd.service\n",
		"Requires=containerd.service\n",
		"Type=oneshot\n",
		`ExecStart=/usr/local/bin/kplay --hosts-dir=/etc/kplay/certs.d up --wait --timeout 5m -q -f /srv/app.yaml -f "/srv/my apps/db.yaml"` + "\n",
		`ExecStop=/usr/local/bin/kplay --hosts-dir=/etc/kplay/certs.d down -f /srv/app.yaml -f "/srv/my apps/db.yaml"` + "\n",
		"WantedBy=multi-user.target\n",
	} {
		if !strings.Contains(u, want) {
			t.Errorf("unit lacks %q:\n%s", want, u)
		}
	}
}

func TestQuoteEscapesSystemdSpecials(t *testing.T) {
	for in, want := range map[string]string{
		"/plain/path": "/plain/path",
		"a b":         `"a b"`,
		"50%$x":       `"50%%$$x"`,
		"":            `""`,
	} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
}
