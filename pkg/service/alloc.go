package service

import (
	"fmt"
	"hash/fnv"
	"net/netip"

	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"
)

// DefaultCIDR is the service range: in the 10.213/16 that kplay's pod subnet
// (10.213.0.0/22) already uses, and clear of kubeadm's and minikube's 10.96/12, k3s's
// 10.42/16 and 10.43/16, flannel's 10.244/16, docker's 172.17/16, podman's 10.88/16 and
// nerdctl's 10.4.0/24.
const DefaultCIDR = "10.213.16.0/20"

// NodePortMin and NodePortMax are the API server's default --service-node-port-range.
const (
	NodePortMin = 30000
	NodePortMax = 32767
)

// Allocate gives every Service of the files its ClusterIP and NodePorts. A Service that
// is stored keeps what it has unless the file sets another value; a new one gets the
// first free address (and ports) after a hash of its namespace and name, so the same
// Service gets the same IP again after a down and up. Values the file sets are honoured
// and must be in range and free. stored may include the files' Services (they are
// skipped by namespace and name).
func Allocate(files []*corev1.Service, stored []corev1.Service, cidr netip.Prefix) error {
	inFiles := map[string]bool{}
	for _, s := range files {
		inFiles[key(s)] = true
	}
	old := map[string]*corev1.Service{}
	ips := map[netip.Addr]string{}
	ports := map[int32]string{}
	for i := range stored {
		s := &stored[i]
		old[key(s)] = s
		if inFiles[key(s)] {
			continue
		}
		if a, err := netip.ParseAddr(s.Spec.ClusterIP); err == nil {
			ips[a] = key(s)
		}
		for _, p := range s.Spec.Ports {
			if p.NodePort != 0 {
				ports[p.NodePort] = key(s)
			}
		}
	}
	// First what the files ask for, so a new Service never takes a requested value.
	for _, s := range files {
		if s.Spec.Type == corev1.ServiceTypeExternalName {
			s.Spec.ClusterIP = ""
			continue
		}
		if ip := s.Spec.ClusterIP; ip != "" && ip != corev1.ClusterIPNone {
			a, err := netip.ParseAddr(ip)
			if err != nil || !cidr.Contains(a) {
				return fmt.Errorf("service %s: spec.clusterIP %s is not in the service range %s (--service-cidr): %w", key(s), ip, cidr, errdefs.ErrInvalidArgument)
			}
			if by, taken := ips[a]; taken {
				return fmt.Errorf("service %s: spec.clusterIP %s is already allocated to service %s: %w", key(s), ip, by, errdefs.ErrAlreadyExists)
			}
			ips[a] = key(s)
		}
		for _, p := range s.Spec.Ports {
			if p.NodePort == 0 {
				continue
			}
			if by, taken := ports[p.NodePort]; taken {
				return fmt.Errorf("service %s: nodePort %d is already allocated to service %s: %w", key(s), p.NodePort, by, errdefs.ErrAlreadyExists)
			}
			ports[p.NodePort] = key(s)
		}
	}
	for _, s := range files {
		if s.Spec.Type == corev1.ServiceTypeExternalName {
			continue
		}
		prev := old[key(s)]
		if s.Spec.ClusterIP == "" {
			if prev != nil && prev.Spec.ClusterIP != "" && prev.Spec.ClusterIP != corev1.ClusterIPNone && free(ips, prev.Spec.ClusterIP, key(s), cidr) {
				s.Spec.ClusterIP = prev.Spec.ClusterIP
			} else {
				a, err := nextIP(cidr, ips, key(s))
				if err != nil {
					return err
				}
				s.Spec.ClusterIP = a.String()
			}
			a, _ := netip.ParseAddr(s.Spec.ClusterIP)
			ips[a] = key(s)
		}
		if s.Spec.ClusterIP != corev1.ClusterIPNone {
			s.Spec.ClusterIPs = []string{s.Spec.ClusterIP}
		} else {
			s.Spec.ClusterIPs = []string{corev1.ClusterIPNone}
		}
		if s.Spec.Type != corev1.ServiceTypeNodePort && s.Spec.Type != corev1.ServiceTypeLoadBalancer {
			continue
		}
		for i := range s.Spec.Ports {
			p := &s.Spec.Ports[i]
			if p.NodePort != 0 {
				continue
			}
			if n := prevNodePort(prev, p); n != 0 && ports[n] == "" {
				p.NodePort = n
			} else {
				n, err := nextPort(ports, fmt.Sprintf("%s/%s/%d", key(s), protocol(p.Protocol), p.Port))
				if err != nil {
					return fmt.Errorf("service %s: %w", key(s), err)
				}
				p.NodePort = n
			}
			ports[p.NodePort] = key(s)
		}
	}
	return nil
}

func key(s *corev1.Service) string {
	ns := s.Namespace
	if ns == "" {
		ns = corev1.NamespaceDefault
	}
	return ns + "/" + s.Name
}

func free(ips map[netip.Addr]string, ip, who string, cidr netip.Prefix) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil || !cidr.Contains(a) {
		return false
	}
	by, taken := ips[a]
	return !taken || by == who
}

func prevNodePort(prev *corev1.Service, p *corev1.ServicePort) int32 {
	if prev == nil {
		return 0
	}
	for _, q := range prev.Spec.Ports {
		if q.Port == p.Port && protocol(q.Protocol) == protocol(p.Protocol) {
			return q.NodePort
		}
	}
	return 0
}

func hash(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// nextIP is the first free address at or after the hash of who, skipping the
// network's first address (Kubernetes gives it to the kubernetes Service) and, for
// IPv4, its broadcast address.
func nextIP(cidr netip.Prefix, ips map[netip.Addr]string, who string) (netip.Addr, error) {
	bits := cidr.Addr().BitLen() - cidr.Bits()
	if bits < 2 || bits > 24 {
		return netip.Addr{}, fmt.Errorf("the service range %s must have between 2 and 24 host bits: %w", cidr, errdefs.ErrInvalidArgument)
	}
	size := uint64(1) << bits
	base := cidr.Masked().Addr().As4()
	start := hash(who) % size
	for i := uint64(0); i < size; i++ {
		off := (start + i) % size
		if off < 2 || off == size-1 {
			continue
		}
		n := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
		n += uint32(off)
		a := netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
		if _, taken := ips[a]; !taken {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("the service range %s is full: %w", cidr, errdefs.ErrAlreadyExists)
}

func nextPort(ports map[int32]string, who string) (int32, error) {
	size := uint64(NodePortMax - NodePortMin + 1)
	start := hash(who) % size
	for i := uint64(0); i < size; i++ {
		n := int32(NodePortMin + (start+i)%size)
		if _, taken := ports[n]; !taken {
			return n, nil
		}
	}
	return 0, fmt.Errorf("no free nodePort in %d-%d: %w", NodePortMin, NodePortMax, errdefs.ErrAlreadyExists)
}

// ParseCIDR reads --service-cidr: an IPv4 prefix that must not overlap the pod subnet.
func ParseCIDR(s, podSubnet string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("invalid --service-cidr %q: use an IPv4 prefix such as %s", s, DefaultCIDR)
	}
	if pod, err := netip.ParsePrefix(podSubnet); err == nil && pod.Overlaps(p) {
		return netip.Prefix{}, fmt.Errorf("--service-cidr %s overlaps the pod subnet %s (--subnet)", p, pod)
	}
	return p.Masked(), nil
}
