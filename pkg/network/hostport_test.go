package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"

	"github.com/kplay-dev/kplay/pkg/hostport"
)

// Captured from a Linux host: sshd on 0.0.0.0:22 and [::]:22, a server on
// 127.0.0.1:8080, one established connection, and a DNS client socket.
const procNetTCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2222 1 0000000000000000 100 0 0 10 0
   2: 0100007F:1F90 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 3333 1 0000000000000000 20 4 30 10 -1
`

const procNetTCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4444 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000A00000A:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5555 1 0000000000000000 100 0 0 10 0
`

const procNetUDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  100: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 6666 2 0000000000000000 0
  101: 0A00020F:A1B2 35FFFF0A:0035 01 00000000:00000000 00:00000000 00000000     0        0 7777 2 0000000000000000 0
`

func TestParseProcNet(t *testing.T) {
	parse := func(text string, proto corev1.Protocol) []string {
		t.Helper()
		socks, err := parseProcNet(strings.NewReader(text), proto)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range socks {
			out = append(out, fmt.Sprintf("%s %s inode %s", s.proto, netip.AddrPortFrom(s.addr, uint16(s.port)), s.inode))
		}
		return out
	}
	tests := []struct {
		name  string
		text  string
		proto corev1.Protocol
		want  []string
	}{
		{"tcp listeners only", procNetTCP, corev1.ProtocolTCP, []string{"TCP 0.0.0.0:22 inode 1111", "TCP 127.0.0.1:8080 inode 2222"}},
		{"tcp6 with a mapped IPv4 address", procNetTCP6, corev1.ProtocolTCP, []string{"TCP [::]:22 inode 4444", "TCP 10.0.0.10:80 inode 5555"}},
		{"udp unconnected only", procNetUDP, corev1.ProtocolUDP, []string{"UDP 0.0.0.0:53 inode 6666"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parse(tt.text, tt.proto)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestConflict(t *testing.T) {
	var socks []socket
	for _, f := range []struct {
		text  string
		proto corev1.Protocol
	}{{procNetTCP, corev1.ProtocolTCP}, {procNetTCP6, corev1.ProtocolTCP}, {procNetUDP, corev1.ProtocolUDP}} {
		s, err := parseProcNet(strings.NewReader(f.text), f.proto)
		if err != nil {
			t.Fatal(err)
		}
		socks = append(socks, s...)
	}
	tests := []struct {
		name string
		port hostport.Port
		want string // inode of the conflicting socket, "" for none
	}{
		{"all addresses vs wildcard listener", hostport.Port{HostPort: 22, Protocol: corev1.ProtocolTCP}, "1111"},
		{"specific address vs wildcard listener", hostport.Port{HostIP: "192.168.1.5", HostPort: 22}, "1111"},
		{"all addresses vs loopback listener", hostport.Port{HostPort: 8080, Protocol: corev1.ProtocolTCP}, "2222"},
		{"same loopback address", hostport.Port{HostIP: "127.0.0.1", HostPort: 8080, Protocol: corev1.ProtocolTCP}, "2222"},
		{"other address than the listener's", hostport.Port{HostIP: "10.0.0.10", HostPort: 8080, Protocol: corev1.ProtocolTCP}, ""},
		{"mapped IPv4 listener", hostport.Port{HostIP: "10.0.0.10", HostPort: 80, Protocol: corev1.ProtocolTCP}, "5555"},
		{"udp port vs tcp-only port", hostport.Port{HostPort: 8080, Protocol: corev1.ProtocolUDP}, ""},
		{"udp server", hostport.Port{HostPort: 53, Protocol: corev1.ProtocolUDP}, "6666"},
		{"connected udp client socket is no server", hostport.Port{HostPort: 0xA1B2, Protocol: corev1.ProtocolUDP}, ""},
		{"free port", hostport.Port{HostPort: 45678, Protocol: corev1.ProtocolTCP}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ok := conflict(tt.port, socks)
			got := ""
			if ok {
				got = s.inode
			}
			if got != tt.want {
				t.Errorf("conflict(%+v) = %q, want %q", tt.port, got, tt.want)
			}
		})
	}
}

func TestCheckHostPortsRealListener(t *testing.T) {
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skipf("no /proc/net/tcp: %v", err)
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := int32(l.Addr().(*net.TCPAddr).Port)

	err = CheckHostPorts([]hostport.Port{{HostPort: port, ContainerPort: 80, Protocol: corev1.ProtocolTCP}})
	if !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("CheckHostPorts on a held port = %v, want ErrAlreadyExists", err)
	}
	want := fmt.Sprintf("host port %d/TCP is already in use by network.test (pid %d)", port, os.Getpid())
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	// The listener is on 127.0.0.1 only: the same port on another address is free.
	if err := CheckHostPorts([]hostport.Port{{HostIP: "192.0.2.1", HostPort: port, Protocol: corev1.ProtocolTCP}}); err != nil {
		t.Errorf("port on another address: %v", err)
	}
	if err := CheckHostPorts([]hostport.Port{{HostPort: port, Protocol: corev1.ProtocolUDP}}); err != nil {
		t.Errorf("same port over UDP: %v", err)
	}
}

// A port is refused when another pod holds it on an overlapping address, naming
// that pod and, when written differently, what it holds.
func TestCheckPorts(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := int32(l.Addr().(*net.TCPAddr).Port)
	l.Close() // free again, so only the holders clash
	tcp := func(ip string) hostport.Port {
		return hostport.Port{HostIP: ip, HostPort: port, ContainerPort: 80, Protocol: corev1.ProtocolTCP}
	}
	holders := []Holder{
		{Pod: "default/zero", Ports: []hostport.Port{tcp("0.0.0.0")}},
		{Pod: "default/udp", Ports: []hostport.Port{{HostPort: port + 1, Protocol: corev1.ProtocolUDP}}},
		{Pod: "default/loopback6", Ports: []hostport.Port{tcp("::1")}},
	}
	tests := []struct {
		name string
		port hostport.Port
		want string // "" for no error
	}{
		{"every address vs 0.0.0.0", tcp(""), fmt.Sprintf("host port %d/TCP is already used by pod default/zero, which holds 0.0.0.0:%d/TCP", port, port)},
		{"one address vs 0.0.0.0", tcp("127.0.0.1"), fmt.Sprintf("host port 127.0.0.1:%d/TCP is already used by pod default/zero, which holds 0.0.0.0:%d/TCP", port, port)},
		{"the same address", tcp("0.0.0.0"), fmt.Sprintf("host port 0.0.0.0:%d/TCP is already used by pod default/zero: ", port)},
		{"TCP vs a UDP holder", hostport.Port{HostPort: port + 1, Protocol: corev1.ProtocolTCP}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPorts([]hostport.Port{tt.port}, holders)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errdefs.IsAlreadyExists(err)):
				t.Errorf("err = %v, want %q wrapping ErrAlreadyExists", err, tt.want)
			}
		})
	}
	if err := CheckPorts([]hostport.Port{tcp("::1")}, holders[1:]); err == nil || !strings.Contains(err.Error(), "pod default/loopback6") {
		t.Errorf("::1 held by a pod: %v", err)
	}
	if err := CheckPorts([]hostport.Port{tcp("127.0.0.1")}, holders[1:]); err != nil {
		t.Errorf("127.0.0.1 next to a pod on ::1: %v", err)
	}
}
