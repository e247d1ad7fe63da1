// Command udpecho answers every UDP datagram on the given port with "echo:" and the datagram.
// busybox has no UDP server, so the UDP hostPort test runs this inside a busybox pod.
package main

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: udpecho PORT")
		os.Exit(2)
	}
	conn, err := net.ListenPacket("udp", ":"+os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// As PID 1 the process ignores SIGTERM unless it handles it.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-stop; os.Exit(0) }()

	fmt.Println("listening on udp port", os.Args[1])
	buf := make([]byte, 65536)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("got %q from %s\n", buf[:n], from)
		if _, err := conn.WriteTo(append([]byte("echo:"), buf[:n]...), from); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
}
