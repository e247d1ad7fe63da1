// Package node reads the facts about this machine that a plan needs: its name,
// its primary address and its allocatable CPU and memory.
package node

import (
	"bufio"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Name is the node name: the host name, as the kubelet uses it.
func Name() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	return strings.ToLower(h)
}

// HostIP is the address of the interface that carries the default route, or the
// first global unicast IPv4 address, or 127.0.0.1.
func HostIP() string {
	// A UDP "connection" sends nothing; it only asks the kernel which source
	// address it would route from.
	if c, err := net.Dial("udp4", "192.0.2.1:9"); err == nil {
		defer c.Close()
		if a, ok := c.LocalAddr().(*net.UDPAddr); ok && !a.IP.IsLoopback() {
			return a.IP.String()
		}
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
			return n.IP.String()
		}
	}
	return "127.0.0.1"
}

// CPUMillis is the node's CPU count in millicores.
func CPUMillis() int64 { return int64(runtime.NumCPU()) * 1000 }

// MemoryBytes is MemTotal from /proc/meminfo, 0 when it cannot be read.
func MemoryBytes() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}
