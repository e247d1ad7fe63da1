package pause

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/kplay-dev/kplay/pkg/clusterdns"
)

// listenLoopback listens on one loopback port for TCP and UDP, as a nameserver does.
func listenLoopback(t *testing.T) (net.Listener, net.PacketConn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenPacket("udp", l.Addr().String())
	if err != nil {
		l.Close()
		t.Skipf("no UDP port beside TCP %s: %v", l.Addr(), err)
	}
	t.Cleanup(func() { l.Close(); conn.Close() })
	return l, conn
}

// fakeUpstream answers every A query, over UDP and TCP on one port, with 192.0.2.1.
func fakeUpstream(t *testing.T) string {
	t.Helper()
	l, conn := listenLoopback(t)
	answer := func(b []byte) []byte {
		var q dnsmessage.Message
		if q.Unpack(b) != nil || len(q.Questions) != 1 {
			return nil
		}
		resp := dnsmessage.Message{Header: dnsmessage.Header{ID: q.ID, Response: true, RecursionAvailable: true}, Questions: q.Questions}
		resp.Answers = []dnsmessage.Resource{{
			Header: dnsmessage.ResourceHeader{Name: q.Questions[0].Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 60},
			Body:   &dnsmessage.AResource{A: [4]byte{192, 0, 2, 1}},
		}}
		out, _ := resp.Pack()
		return out
	}
	go func() {
		buf := make([]byte, 512)
		for {
			n, addr, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			conn.WriteTo(answer(buf[:n]), addr)
		}
	}()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if q, err := readTCP(c); err == nil {
				writeTCP(c, answer(q))
			}
			c.Close()
		}
	}()
	return l.Addr().String()
}

// startResponder serves the records file on loopback ports and returns the address.
func startResponder(t *testing.T, records string) string {
	t.Helper()
	r := newResponder(records)
	l, conn := listenLoopback(t)
	go r.serveUDP(conn)
	go r.serveTCP(l)
	return l.Addr().String()
}

// ask sends one A query over network and returns the answer.
func ask(t *testing.T, network, server, name string) *dnsmessage.Message {
	t.Helper()
	q := dnsmessage.Message{Header: dnsmessage.Header{ID: 4242, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: dnsmessage.MustNewName(name), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}}}
	b, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout(network, server, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if network == "tcp" {
		err = writeTCP(c, b)
	} else {
		_, err = c.Write(b)
	}
	if err != nil {
		t.Fatal(err)
	}
	if network == "tcp" {
		b, err = readTCP(c)
	} else {
		buf := make([]byte, 64<<10)
		var n int
		n, err = c.Read(buf)
		b = buf[:n]
	}
	if err != nil {
		t.Fatalf("%s %s: %v", network, name, err)
	}
	var resp dnsmessage.Message
	if err := resp.Unpack(b); err != nil {
		t.Fatal(err)
	}
	if resp.ID != q.ID || !resp.Response {
		t.Fatalf("%s %s: answer %+v does not answer query %d", network, name, resp.Header, q.ID)
	}
	return &resp
}

func addresses(m *dnsmessage.Message) []string {
	var out []string
	for _, rr := range m.Answers {
		switch v := rr.Body.(type) {
		case *dnsmessage.AResource:
			out = append(out, netip.AddrFrom4(v.A).String())
		case *dnsmessage.CNAMEResource:
			out = append(out, "CNAME "+v.CNAME.String())
		}
	}
	return out
}

func TestResponder(t *testing.T) {
	dir := t.TempDir()
	upstream := fakeUpstream(t)
	rec := clusterdns.Records{
		Domain:   clusterdns.ClusterDomain,
		A:        map[string][]string{"web.default.svc.cluster.local.": {"10.213.16.5"}},
		CNAME:    map[string]string{"ext.default.svc.cluster.local.": "example.org."},
		Upstream: []string{upstream},
	}
	if err := clusterdns.WriteRecords(dir, rec); err != nil {
		t.Fatal(err)
	}
	server := startResponder(t, filepath.Join(dir, clusterdns.RecordsFile))

	for _, network := range []string{"udp", "tcp"} {
		for _, c := range []struct {
			name string
			want []string
		}{
			{"web.default.svc.cluster.local.", []string{"10.213.16.5"}},
			{"example.org.", []string{"192.0.2.1"}}, // forwarded
			{"ext.default.svc.cluster.local.", []string{"CNAME example.org.", "192.0.2.1"}},
		} {
			m := ask(t, network, server, c.name)
			if got := addresses(m); !reflect.DeepEqual(got, c.want) || m.RCode != dnsmessage.RCodeSuccess || !m.RecursionAvailable {
				t.Errorf("%s %s: %v rcode %v ra %v, want %v", network, c.name, got, m.RCode, m.RecursionAvailable, c.want)
			}
		}
		if m := ask(t, network, server, "nothing.default.svc.cluster.local."); m.RCode != dnsmessage.RCodeNameError {
			t.Errorf("%s: a missing cluster name: rcode %v, want NXDOMAIN", network, m.RCode)
		}
	}

	// kplay rewrites the file when Services change: the running responder follows
	// (the file's size changes, whatever the clock's resolution).
	rec.A["db.default.svc.cluster.local."] = []string{"10.213.16.6"}
	rec.Upstream = []string{"127.0.0.1:1"} // nothing answers there
	if err := clusterdns.WriteRecords(dir, rec); err != nil {
		t.Fatal(err)
	}
	if got := addresses(ask(t, "udp", server, "db.default.svc.cluster.local.")); !reflect.DeepEqual(got, []string{"10.213.16.6"}) {
		t.Errorf("a Service added later: %v", got)
	}
	if m := ask(t, "udp", server, "example.org."); m.RCode != dnsmessage.RCodeServerFailure {
		t.Errorf("no upstream answers: rcode %v, want SERVFAIL", m.RCode)
	}
	os.Remove(filepath.Join(dir, clusterdns.RecordsFile))
	if got := addresses(ask(t, "tcp", server, "db.default.svc.cluster.local.")); !reflect.DeepEqual(got, []string{"10.213.16.6"}) {
		t.Errorf("after the records file went away: %v, want the last records kept", got)
	}
}

// The responder runs in PID 1 of the pod's sandbox: a flood of queries waiting on a
// slow upstream holds at most maxInFlight goroutines and buffers, the rest are
// dropped, and a panic while answering drops that query, not the pod.
func TestServeBoundsAndRecovers(t *testing.T) {
	r := newResponder("")
	release := make(chan struct{})
	var started sync.WaitGroup
	for i := 0; i < maxInFlight; i++ {
		started.Add(1)
		if !r.serve(func() { started.Done(); <-release }) {
			t.Fatalf("query %d refused with %d in flight", i+1, i)
		}
	}
	started.Wait()
	if r.serve(func() { t.Error("a query beyond the bound ran") }) {
		t.Fatalf("query %d served with %d in flight, want it dropped", maxInFlight+1, maxInFlight)
	}
	close(release)
	// The slots come back as the queries end, a panicking one included.
	done := make(chan struct{})
	deadline := time.Now().Add(5 * time.Second)
	for !r.serve(func() { close(done); panic("a bug while answering") }) {
		if time.Now().After(deadline) {
			t.Fatal("no slot came back after the queries ended")
		}
		runtime.Gosched()
	}
	<-done
	// All maxInFlight slots, the panicking query's included, serve again at once.
	hold := make(chan struct{})
	defer close(hold)
	for i := 0; i < maxInFlight; i++ {
		for !r.serve(func() { <-hold }) {
			if time.Now().After(deadline) {
				t.Fatalf("%d slots came back, want %d", i, maxInFlight)
			}
			runtime.Gosched()
		}
	}
}

// A query's EDNS record sets how large an upstream UDP answer may be.
func TestUDPSize(t *testing.T) {
	var q dnsmessage.Message
	if got := udpSize(&q); got != 512 {
		t.Errorf("without EDNS: %d, want 512", got)
	}
	q.Additionals = []dnsmessage.Resource{{Header: dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName("."), Type: dnsmessage.TypeOPT, Class: 1232}, Body: &dnsmessage.OPTResource{}}}
	if got := udpSize(&q); got != 1232 {
		t.Errorf("with EDNS 1232: %d, want 1232", got)
	}
}
