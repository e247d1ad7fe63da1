package pause

import (
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/kplay-dev/kplay/pkg/clusterdns"
)

// DNSFlag passes the records file to the pause process: with it, the pause process
// answers the pod's DNS queries at clusterdns.DNSAddress:53 in the pod's network
// namespace.
const DNSFlag = "--dns="

// upstreamTimeout bounds one exchange with an upstream nameserver.
const upstreamTimeout = 2 * time.Second

// tcpIdle is how long a TCP client may keep a connection open between queries.
const tcpIdle = 10 * time.Second

// maxInFlight bounds the queries (UDP) and connections (TCP) served at once: each may
// wait upstreamTimeout with a buffer, in a process every pod keeps resident. Beyond
// it, queries are dropped and the clients retry, as with a busy nameserver.
const maxInFlight = 64

// maxQuery is the largest query read over UDP: queries carry one question and
// perhaps an OPT record, far below it.
const maxQuery = 4096

// responder answers from a records file that kplay rewrites atomically; it re-reads the
// file when its modification time or size changes, so new Services resolve in running
// pods. It works on golang.org/x/net/dns/dnsmessage, the parser the standard library's
// resolver uses, rather than a full DNS library: every pod keeps a pause process
// resident, and its size is most of its memory.
type responder struct {
	path    string
	slots   chan struct{} // one per query or connection served, maxInFlight in all
	mu      sync.Mutex
	mtime   time.Time
	size    int64
	records *clusterdns.Records
}

func newResponder(path string) *responder {
	return &responder{path: path, slots: make(chan struct{}, maxInFlight)}
}

func (r *responder) current() *clusterdns.Records {
	r.mu.Lock()
	defer r.mu.Unlock()
	fi, err := os.Stat(r.path)
	if err != nil {
		if r.records == nil {
			r.records = &clusterdns.Records{Domain: clusterdns.ClusterDomain}
		}
		return r.records
	}
	if r.records == nil || !fi.ModTime().Equal(r.mtime) || fi.Size() != r.size {
		if rec, err := clusterdns.ReadRecords(r.path); err == nil {
			r.records, r.mtime, r.size = rec, fi.ModTime(), fi.Size()
		} else if r.records == nil {
			r.records = &clusterdns.Records{Domain: clusterdns.ClusterDomain}
		}
	}
	return r.records
}

// answer returns the response to one query, or nil to send nothing (a message that
// is not a query). network is "udp" or "tcp", the transport used upstream too, so a
// client that retries over TCP after a truncated answer gets the whole answer.
func (r *responder) answer(query []byte, network string) []byte {
	var q dnsmessage.Message
	if err := q.Unpack(query); err != nil || q.Response {
		return nil
	}
	rec := r.current()
	resp, forward := rec.Answer(&q)
	if forward {
		if b, err := exchange(rec.Upstream, network, query, udpSize(&q)); err == nil {
			return b // the upstream's answer, untouched
		}
		resp = servfail(&q)
	} else if len(resp.Answers) == 1 && resp.Answers[0].Header.Type == dnsmessage.TypeCNAME {
		// Resolve an ExternalName's target, as CoreDNS does, so stub resolvers that do
		// not chase CNAMEs get an address too.
		resp.Answers = append(resp.Answers, r.resolve(rec, resp.Answers[0].Body.(*dnsmessage.CNAMEResource).CNAME, q.Questions[0].Type)...)
	}
	resp.RecursionAvailable = true
	b, err := resp.Pack()
	if err != nil {
		b, _ = servfail(&q).Pack()
	}
	return b
}

// resolve answers a name and type from the records or, outside the cluster, upstream.
func (r *responder) resolve(rec *clusterdns.Records, name dnsmessage.Name, qtype dnsmessage.Type) []dnsmessage.Resource {
	m := &dnsmessage.Message{
		Header:    dnsmessage.Header{ID: uint16(rand.Uint32()), RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: name, Type: qtype, Class: dnsmessage.ClassINET}},
	}
	target, forward := rec.Answer(m)
	if forward {
		query, err := m.Pack()
		if err != nil {
			return nil
		}
		b, err := exchange(rec.Upstream, "udp", query, udpSize(m))
		if err != nil {
			return nil
		}
		target = new(dnsmessage.Message)
		if target.Unpack(b) != nil {
			return nil
		}
	}
	if target.RCode != dnsmessage.RCodeSuccess {
		return nil
	}
	return target.Answers
}

func servfail(q *dnsmessage.Message) *dnsmessage.Message {
	return &dnsmessage.Message{
		Header: dnsmessage.Header{ID: q.ID, Response: true, OpCode: q.OpCode, RecursionDesired: q.RecursionDesired,
			RecursionAvailable: true, RCode: dnsmessage.RCodeServerFailure},
		Questions: q.Questions,
	}
}

// udpSize is the largest UDP answer the query's sender accepts: 512 bytes, or more
// as its EDNS OPT record says (RFC 6891 6.2.3).
func udpSize(q *dnsmessage.Message) int {
	for _, a := range q.Additionals {
		if a.Header.Type == dnsmessage.TypeOPT && int(a.Header.Class) > 512 {
			return int(a.Header.Class)
		}
	}
	return 512
}

// exchange sends query to the upstream nameservers in turn and returns the first
// answer with the query's ID. size is the largest UDP answer the query allows.
func exchange(upstream []string, network string, query []byte, size int) ([]byte, error) {
	err := errors.New("no upstream nameserver")
	for _, up := range upstream {
		var b []byte
		if b, err = exchangeOne(up, network, query, size); err == nil {
			return b, nil
		}
	}
	return nil, err
}

func exchangeOne(upstream, network string, query []byte, size int) ([]byte, error) {
	conn, err := net.DialTimeout(network, upstream, upstreamTimeout)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(upstreamTimeout))
	if network == "tcp" {
		if err := writeTCP(conn, query); err != nil {
			return nil, err
		}
		b, err := readTCP(conn)
		if err == nil && !sameID(b, query) {
			err = errors.New("answer to another query")
		}
		return b, err
	}
	if _, err := conn.Write(query); err != nil {
		return nil, err
	}
	buf := make([]byte, size+1) // a longer datagram is read short and fails to parse
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return nil, err
		}
		if sameID(buf[:n], query) { // anything else is a stray or spoofed datagram
			return buf[:n], nil
		}
	}
}

func sameID(a, b []byte) bool { return len(a) >= 2 && len(b) >= 2 && a[0] == b[0] && a[1] == b[1] }

// DNS over TCP prefixes each message with its length (RFC 1035 4.2.2).
func readTCP(conn net.Conn) ([]byte, error) {
	var n [2]byte
	if _, err := io.ReadFull(conn, n[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint16(n[:]))
	_, err := io.ReadFull(conn, b)
	return b, err
}

func writeTCP(conn net.Conn, msg []byte) error {
	_, err := conn.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(msg))), msg...))
	return err
}

// serve runs f on its own goroutine if fewer than maxInFlight are running, and
// reports whether it did. A panic in f drops its query and leaves the process, PID 1
// of the pod's sandbox, running.
func (r *responder) serve(f func()) bool {
	select {
	case r.slots <- struct{}{}:
	default:
		return false
	}
	go func() {
		defer func() {
			recover()
			<-r.slots
		}()
		f()
	}()
	return true
}

func (r *responder) serveUDP(conn net.PacketConn) {
	buf := make([]byte, maxQuery)
	for {
		n, addr, err := conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		query := append([]byte(nil), buf[:n]...)
		r.serve(func() {
			if b := r.answer(query, "udp"); b != nil {
				conn.WriteTo(b, addr)
			}
		})
	}
}

func (r *responder) serveTCP(l net.Listener) {
	for {
		conn, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if !r.serve(func() {
			defer conn.Close()
			for {
				conn.SetDeadline(time.Now().Add(tcpIdle))
				query, err := readTCP(conn)
				if err != nil {
					return
				}
				b := r.answer(query, "tcp")
				if b == nil || writeTCP(conn, b) != nil {
					return
				}
			}
		}) {
			conn.Close()
		}
	}
}

// serveDNS starts the responder on UDP and TCP; failures leave the pod without cluster
// names but alive.
func serveDNS(path string) {
	r := newResponder(path)
	addr := net.JoinHostPort(clusterdns.DNSAddress, "53")
	if conn, err := net.ListenPacket("udp", addr); err == nil {
		go r.serveUDP(conn)
	}
	if l, err := net.Listen("tcp", addr); err == nil {
		go r.serveTCP(l)
	}
}

// dnsPath returns the records file named in the arguments.
func dnsPath(args []string) string {
	for _, a := range args {
		if strings.HasPrefix(a, DNSFlag) {
			return strings.TrimPrefix(a, DNSFlag)
		}
	}
	return ""
}
