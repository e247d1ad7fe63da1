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
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"

	"github.com/kplay-dev/kplay/pkg/hostport"
)

// The kernel's answer holds listening TCP and unconnected UDP sockets with their
// address, port and inode, and neither connections nor connected UDP sockets.
func TestHostSockets(t *testing.T) {
	tcp, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	tcp6, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer tcp6.Close()
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	conn, err := net.Dial("tcp4", tcp.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client, err := net.Dial("udp4", udp.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	socks, err := hostSockets()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, s := range socks {
		found[fmt.Sprintf("%s %s", s.proto, netip.AddrPortFrom(s.addr, uint16(s.port)))] = true
		if s.inode == "" || s.inode == "0" {
			t.Errorf("socket %+v without an inode", s)
		}
	}
	for addr, want := range map[string]bool{
		"TCP " + tcp.Addr().String():         true,
		"TCP " + tcp6.Addr().String():        true,
		"UDP " + udp.LocalAddr().String():    true,
		"TCP " + conn.LocalAddr().String():   false,
		"UDP " + client.LocalAddr().String(): false,
	} {
		if found[addr] != want {
			t.Errorf("%s listed: %v, want %v", addr, found[addr], want)
		}
	}
}

func TestConflict(t *testing.T) {
	sock := func(proto corev1.Protocol, addr string, port int32, inode string) socket {
		return socket{proto: proto, addr: netip.MustParseAddr(addr), port: port, inode: inode}
	}
	socks := []socket{
		sock(corev1.ProtocolTCP, "0.0.0.0", 22, "1111"),
		sock(corev1.ProtocolTCP, "127.0.0.1", 8080, "2222"),
		sock(corev1.ProtocolTCP, "::", 22, "4444"),
		sock(corev1.ProtocolTCP, "10.0.0.10", 80, "5555"), // from a mapped IPv6 address, unmapped
		sock(corev1.ProtocolUDP, "0.0.0.0", 53, "6666"),
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

// An interrupted sock_diag dump may lack a listener: it is retried, and never
// taken for the host's sockets.
func TestDumpWholeRetriesInterruptedDumps(t *testing.T) {
	partial := []*netlink.Socket{{}}
	whole := []*netlink.Socket{{}, {}}
	for _, tt := range []struct {
		name        string
		interrupted int // dumps interrupted before a whole one
		want        []*netlink.Socket
		wantErr     bool
	}{
		{"whole at once", 0, whole, false},
		{"whole after interrupted ones", dumpAttempts - 1, whole, false},
		{"interrupted every time", dumpAttempts, nil, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			dump := func(family uint8) ([]*netlink.Socket, error) {
				calls++
				if calls <= tt.interrupted {
					return partial, netlink.ErrDumpInterrupted
				}
				return whole, nil
			}
			got, err := dumpWhole(dump, unix.AF_INET)
			if tt.wantErr {
				if !errors.Is(err, netlink.ErrDumpInterrupted) || got != nil {
					t.Fatalf("got %d sockets, error %v; want none and an interrupted dump's error", len(got), err)
				}
				return
			}
			if err != nil || len(got) != len(tt.want) {
				t.Fatalf("got %d sockets, error %v; want %d", len(got), err, len(tt.want))
			}
		})
	}
}
