package service

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
)

// masqueradeMark marks packets that must leave with the host's address: a pod reaching
// itself through its Service (hairpin) and traffic that came in at a NodePort or a
// LoadBalancer port, as kube-proxy's 0x4000.
const masqueradeMark = 0x4000

var tableNameUnsafe = regexp.MustCompile(`[^A-Za-z0-9_-]`)

// TableName is the nftables table (family ip) of one containerd namespace's Services.
func TableName(containerdNamespace string) string {
	name := tableNameUnsafe.ReplaceAllString(containerdNamespace, "-")
	if len(name) < 5 || name[:5] != "kplay" {
		name = "kplay-" + name
	}
	return name
}

// Apply replaces the table with the rules in one netlink transaction: the table is
// created (a no-op when it exists), deleted and created again with its new contents,
// so the kernel switches from the old ruleset to the new one at once. No rules delete
// the table.
func Apply(table string, rules []Rule) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("opening netlink for nftables: %w", err)
	}
	t := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: table}
	c.AddTable(t)
	c.DelTable(t)
	if len(rules) > 0 {
		if err := build(c, c.AddTable(t), rules); err != nil {
			return err
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("programming nftables table ip %s: %w", table, err)
	}
	return nil
}

// Exists reports whether the table is there (for the leak checks and tests).
func Exists(table string) bool {
	c, err := nftables.New()
	if err != nil {
		return false
	}
	_, err = c.ListTableOfFamily(table, nftables.TableFamilyIPv4)
	return err == nil
}

// RouteLocalnet lets packets from 127.0.0.1 be routed to pods over the bridge once they
// are DNATed, so a NodePort answers on 127.0.0.1 (kube-proxy sets it for the same
// reason). It is set on kplay's bridge only, not for every interface.
func RouteLocalnet(bridge string) error {
	path := filepath.Join("/proc/sys/net/ipv4/conf", bridge, "route_localnet")
	if _, err := os.Stat(path); err != nil {
		return nil // no bridge yet: no pod has started, the next sync sets it
	}
	return os.WriteFile(path, []byte("1"), 0o644)
}

func build(c *nftables.Conn, t *nftables.Table, rules []Rule) error {
	chain := func(name string) *nftables.Chain {
		return c.AddChain(&nftables.Chain{Name: name, Table: t})
	}
	base := func(name string, typ nftables.ChainType, hook *nftables.ChainHook, prio *nftables.ChainPriority) *nftables.Chain {
		return c.AddChain(&nftables.Chain{Name: name, Table: t, Type: typ, Hooknum: hook, Priority: prio})
	}
	add := func(ch *nftables.Chain, exprs ...expr.Any) {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: exprs})
	}
	services := chain("services")
	rejects := chain("reject-services")
	add(base("nat-prerouting", nftables.ChainTypeNAT, nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest), jump(services.Name))
	add(base("nat-output", nftables.ChainTypeNAT, nftables.ChainHookOutput, nftables.ChainPriorityNATDest), jump(services.Name))
	post := base("nat-postrouting", nftables.ChainTypeNAT, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource)
	add(post,
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(masqueradeMark), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Masq{})
	add(base("filter-forward", nftables.ChainTypeFilter, nftables.ChainHookForward, nftables.ChainPriorityFilter), jump(rejects.Name))
	add(base("filter-output", nftables.ChainTypeFilter, nftables.ChainHookOutput, nftables.ChainPriorityFilter), jump(rejects.Name))

	for _, r := range rules {
		ip, err := netip.ParseAddr(r.ClusterIP)
		if err != nil || !ip.Is4() {
			return fmt.Errorf("service %s: clusterIP %q is no IPv4 address", r.Service, r.ClusterIP)
		}
		proto := l4proto(r.Protocol)
		match := append(daddr(ip), matchPort(proto, r.Port)...)
		if len(r.Endpoints) == 0 {
			add(rejects, append(match, reject(proto))...)
			continue
		}
		svc := chain(r.Chain())
		add(services, append(match, gotoChain(svc.Name))...)
		for _, port := range []int32{r.NodePort, r.HostPort} {
			if port == 0 {
				continue
			}
			exprs := append(localDaddr(), matchPort(proto, port)...)
			exprs = append(exprs, setMark()...)
			add(services, append(exprs, gotoChain(svc.Name))...)
		}
		eps := make([]*nftables.Chain, len(r.Endpoints))
		for i := range r.Endpoints {
			eps[i] = chain(r.EndpointChain(i))
		}
		var sets []*nftables.Set
		if r.AffinitySeconds > 0 {
			timeout := time.Duration(r.AffinitySeconds) * time.Second
			for i := range r.Endpoints {
				s := &nftables.Set{Table: t, Name: r.AffinitySet(i), KeyType: nftables.TypeIPAddr, Dynamic: true, HasTimeout: true, Timeout: timeout}
				if err := c.AddSet(s, nil); err != nil {
					return fmt.Errorf("service %s: %w", r.Service, err)
				}
				sets = append(sets, s)
				add(svc, saddr(), &expr.Lookup{SourceRegister: 1, SetName: s.Name, SetID: s.ID}, gotoChain(eps[i].Name))
			}
		}
		// iptables mode's statistic trick: endpoint i of n is taken with probability
		// 1/(n-i) if none before it was, which spreads evenly.
		for i := range r.Endpoints {
			left := uint32(len(r.Endpoints) - i)
			if left == 1 {
				add(svc, gotoChain(eps[i].Name))
				break
			}
			add(svc,
				&expr.Numgen{Register: 1, Modulus: left, Type: unix.NFT_NG_RANDOM},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
				gotoChain(eps[i].Name))
		}
		for i, target := range r.Endpoints {
			tip, err := netip.ParseAddr(target.IP)
			if err != nil || !tip.Is4() {
				return fmt.Errorf("service %s: endpoint %q is no IPv4 address", r.Service, target.IP)
			}
			// A pod reaching itself must see the reply come from the host, not from itself.
			add(eps[i], append(saddrIs(tip), setMark()...)...)
			if sets != nil {
				add(eps[i], saddr(), &expr.Dynset{SrcRegKey: 1, SetName: sets[i].Name, SetID: sets[i].ID, Operation: unix.NFT_DYNSET_OP_UPDATE, Timeout: sets[i].Timeout})
			}
			add(eps[i],
				&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
				&expr.Immediate{Register: 1, Data: tip.AsSlice()},
				&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(uint16(target.Port))},
				&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true})
		}
	}
	return nil
}

func l4proto(p corev1.Protocol) byte {
	if p == corev1.ProtocolUDP {
		return unix.IPPROTO_UDP
	}
	return unix.IPPROTO_TCP
}

func jump(chain string) expr.Any {
	return &expr.Verdict{Kind: expr.VerdictJump, Chain: chain}
}

func gotoChain(chain string) expr.Any {
	return &expr.Verdict{Kind: expr.VerdictGoto, Chain: chain}
}

// daddr matches the IPv4 destination address.
func daddr(ip netip.Addr) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ip.AsSlice()},
	}
}

// saddr loads the IPv4 source address into register 1.
func saddr() expr.Any {
	return &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4}
}

func saddrIs(ip netip.Addr) []expr.Any {
	return []expr.Any{saddr(), &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ip.AsSlice()}}
}

// localDaddr matches a destination that is one of the host's addresses (fib daddr type local).
func localDaddr() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
	}
}

// matchPort matches the layer 4 protocol and destination port.
func matchPort(proto byte, port int32) []expr.Any {
	p := make([]byte, 2)
	binary.BigEndian.PutUint16(p, uint16(port))
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p},
	}
}

// setMark ORs masqueradeMark into the packet mark.
func setMark() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(^uint32(masqueradeMark)), Xor: binaryutil.NativeEndian.PutUint32(masqueradeMark)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
	}
}

// reject answers TCP with a reset and UDP with port unreachable, so a client fails at once.
func reject(proto byte) expr.Any {
	if proto == unix.IPPROTO_TCP {
		return &expr.Reject{Type: unix.NFT_REJECT_TCP_RST}
	}
	return &expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: 3} // port unreachable
}
