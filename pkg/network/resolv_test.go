package network

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"
)

func TestResolvConf(t *testing.T) {
	ndots := "2"
	five := "5"
	const host = "# generated\nnameserver 10.255.255.53\nnameserver 127.0.0.53\nsearch corp.example. lab.example\noptions edns0 ndots:1\n"
	const stubOnly = "nameserver 127.0.0.53\noptions edns0\n"
	tests := []struct {
		name         string
		host         string
		policy       corev1.DNSPolicy
		cfg          *corev1.PodDNSConfig
		hostNetwork  bool
		want         string
		wantWarnings []string // substrings, one per warning
	}{
		{
			name: "ClusterFirst without cluster DNS is the host's, minus loopback", host: host, policy: corev1.DNSClusterFirst,
			want: "search corp.example lab.example\nnameserver 10.255.255.53\noptions edns0 ndots:1\n",
		},
		{
			name: "Default keeps loopback for hostNetwork", host: host, policy: corev1.DNSDefault, hostNetwork: true,
			want: "search corp.example lab.example\nnameserver 10.255.255.53\nnameserver 127.0.0.53\noptions edns0 ndots:1\n",
		},
		{
			name: "only a loopback stub: no nameserver, and a warning", host: stubOnly, policy: corev1.DNSClusterFirst,
			want:         "options edns0\n",
			wantWarnings: []string{"only loopback nameservers (127.0.0.53)"},
		},
		{
			name: "None is built from dnsConfig alone", host: host, policy: corev1.DNSNone,
			cfg:  &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1"}, Searches: []string{"ns1.svc.example"}, Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: &ndots}}},
			want: "search ns1.svc.example\nnameserver 1.1.1.1\noptions ndots:2\n",
		},
		{
			name: "dnsConfig merges: duplicates dropped, pod options win in place, new ones appended", host: host, policy: corev1.DNSClusterFirst,
			cfg: &corev1.PodDNSConfig{
				Nameservers: []string{"10.255.255.53", "9.9.9.9"},
				Searches:    []string{"lab.example", "extra.example"},
				Options:     []corev1.PodDNSConfigOption{{Name: "ndots", Value: &five}, {Name: "single-request-reopen"}},
			},
			want: "search corp.example lab.example extra.example\nnameserver 10.255.255.53\nnameserver 9.9.9.9\noptions edns0 ndots:5 single-request-reopen\n",
		},
		{
			name: "more than three nameservers are cut with a warning", host: "nameserver 1.1.1.1\nnameserver 1.0.0.1\n", policy: corev1.DNSDefault,
			cfg:          &corev1.PodDNSConfig{Nameservers: []string{"8.8.8.8", "8.8.4.4"}},
			want:         "nameserver 1.1.1.1\nnameserver 1.0.0.1\nnameserver 8.8.8.8\n",
			wantWarnings: []string{"nameserver limits were exceeded"},
		},
		{
			name: "last search and options lines win, nameservers accumulate", policy: corev1.DNSDefault,
			host:         "search a.example\noptions rotate\nnameserver 192.0.2.1\n; comment\nsearch b.example .\noptions timeout:1\nnameserver 192.0.2.2\nnameserver\n",
			want:         "search b.example\nnameserver 192.0.2.1\nnameserver 192.0.2.2\noptions timeout:1\n",
			wantWarnings: []string{`ignoring host resolv.conf line "nameserver"`},
		},
		{
			name: "IPv6 loopback and mapped loopback are dropped too", policy: corev1.DNSDefault,
			host: "nameserver ::1\nnameserver ::ffff:127.0.0.1\nnameserver 2001:db8::53\n",
			want: "nameserver 2001:db8::53\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, warnings, err := ResolvConf([]byte(tt.host), tt.policy, tt.cfg, tt.hostNetwork)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
			if len(warnings) != len(tt.wantWarnings) {
				t.Fatalf("warnings %q, want %d", warnings, len(tt.wantWarnings))
			}
			for i, w := range tt.wantWarnings {
				if !strings.Contains(warnings[i], w) {
					t.Errorf("warning %q does not say %q", warnings[i], w)
				}
			}
		})
	}
}

func TestResolvConfSearchLimits(t *testing.T) {
	var searches []string
	for i := 0; i < 40; i++ {
		// 67 characters each: 31 of them make a 2107-character line, 30 fit in 2048.
		searches = append(searches, fmt.Sprintf("%02d%s.example", i, strings.Repeat("x", 57)))
	}
	searches[1] = strings.Repeat("y", 254) // longer than a DNS name may be
	got, warnings, err := ResolvConf(nil, corev1.DNSNone, &corev1.PodDNSConfig{Searches: searches}, false)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimPrefix(strings.SplitN(string(got), "\n", 2)[0], "search ")
	if n := len(strings.Fields(line)); n != 30 || len(line) > 2048 || strings.Contains(line, "yyy") {
		t.Errorf("search line has %d paths, %d chars: %s", n, len(line), line)
	}
	if len(warnings) != 1 {
		t.Errorf("warnings = %q, want one", warnings)
	}
}

func TestResolvConfBadPolicy(t *testing.T) {
	if _, _, err := ResolvConf(nil, "Sometimes", nil, false); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("err = %v, want ErrInvalidArgument", err)
	}
}

func TestChooseResolvConf(t *testing.T) {
	const stub = "nameserver 127.0.0.53\nsearch lan\n"
	const real = "nameserver 192.168.1.1\n"
	const upstream = "nameserver 192.168.1.254\nsearch lan\n"
	found := func() ([]byte, error) { return []byte(upstream), nil }
	missing := func() ([]byte, error) { return nil, os.ErrNotExist }
	tests := []struct {
		name        string
		etc         string
		hostNetwork bool
		upstream    func() ([]byte, error)
		want        string
	}{
		{"stub resolver: its upstream", stub, false, found, upstream},
		{"stub resolver without upstream file: as is", stub, false, missing, stub},
		{"stub resolver, host network: as is", stub, true, found, stub},
		{"usable nameserver: as is", real, false, found, real},
		{"no nameserver at all: as is", "search lan\n", false, found, "search lan\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(chooseResolvConf([]byte(tt.etc), tt.hostNetwork, tt.upstream)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
