package runtime

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	corev1 "k8s.io/api/core/v1"

	"github.com/kplay-dev/kplay/pkg/clusterdns"
	"github.com/kplay-dev/kplay/pkg/hostport"
	"github.com/kplay-dev/kplay/pkg/network"
	"github.com/kplay-dev/kplay/pkg/pause"
	"github.com/kplay-dev/kplay/pkg/plan"
	"github.com/kplay-dev/kplay/pkg/podstate"
	"github.com/kplay-dev/kplay/pkg/service"
	"github.com/kplay-dev/kplay/pkg/store"
)

// RecordsDir is where kplay keeps the DNS records of a containerd namespace's Services;
// every pod's pause process has it mounted read-only at /run.
func RecordsDir(runRoot, namespace string) string {
	return filepath.Join(runRoot, "services", namespace)
}

func (r *Runtime) recordsDir() string { return RecordsDir(r.cfg.RunRoot, r.cfg.Namespace) }

// clusterDNS says whether the pod's own pause process answers its names: kplay's
// pause (not --infra-image) in a network namespace of the pod's own.
func (r *Runtime) clusterDNS(pp *plan.PodPlan) bool {
	return r.cfg.InfraImage == "" && !pp.Spec.HostNetwork
}

func (r *Runtime) infraArgs(pp *plan.PodPlan) []string {
	args := append([]string{}, r.infra.Args...)
	if r.clusterDNS(pp) {
		args = append(args, pause.DNSFlag+"/run/"+clusterdns.RecordsFile)
	}
	return args
}

func (r *Runtime) infraMounts(pp *plan.PodPlan) []specs.Mount {
	mounts := append([]specs.Mount{}, r.infra.Mounts...)
	if r.clusterDNS(pp) {
		// A directory, not the file: kplay replaces the file by renaming over it, which a
		// file bind mount would not see.
		os.MkdirAll(r.recordsDir(), 0o755)
		mounts = append(mounts, specs.Mount{Destination: "/run", Type: "bind", Source: r.recordsDir(),
			Options: []string{"rbind", "ro", "nosuid", "nodev", "noexec"}})
	}
	return mounts
}

// resolvConf is the pod's resolv.conf: for a ClusterFirst pod whose pause answers
// names, the kubelet's cluster layout (the responder, the search list
// <ns>.svc.cluster.local svc.cluster.local cluster.local and the host's, ndots:5).
func (r *Runtime) resolvConf(pp *plan.PodPlan, host []byte) ([]byte, []string, error) {
	if !r.clusterDNS(pp) || pp.Spec.DNSPolicy != corev1.DNSClusterFirst {
		return network.ResolvConf(host, pp.Spec.DNSPolicy, pp.Spec.DNSConfig, pp.Spec.HostNetwork)
	}
	var searches, options []string
	for _, line := range strings.Split(string(host), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == "search" {
			searches = f[1:]
		}
		if len(f) > 0 && f[0] == "options" {
			options = f[1:]
		}
	}
	d := clusterdns.ClusterDomain
	var b bytes.Buffer
	fmt.Fprintf(&b, "nameserver %s\n", clusterdns.DNSAddress)
	fmt.Fprintf(&b, "search %s.svc.%s svc.%s %s %s\n", pp.Namespace, d, d, d, strings.Join(searches, " "))
	fmt.Fprintf(&b, "options ndots:5 %s\n", strings.Join(options, " "))
	// As a hostNetwork pod, so the loopback responder is kept.
	return network.ResolvConf(b.Bytes(), corev1.DNSDefault, pp.Spec.DNSConfig, true)
}

// withServiceLabels adds what Services need of a pod to its infra container's labels.
func withServiceLabels(l map[string]string, pp *plan.PodPlan) map[string]string {
	maps.Copy(l, podstate.ServiceLabels(pp))
	return l
}

// servicePods are the pods as endpoint selection sees them.
func (r *Runtime) servicePods(ctx context.Context) ([]service.Pod, error) {
	states, err := r.pods(r.context(ctx))
	if err != nil {
		return nil, err
	}
	var out []service.Pod
	for _, st := range sortedPods(states) {
		if st.Infra == nil {
			continue
		}
		pod := r.pod(ctx, st)
		sp := service.Pod{
			Namespace: pod.Namespace, Name: pod.Name, IP: pod.Status.PodIP, Labels: pod.Labels,
			Running:  pod.Status.Phase == corev1.PodRunning,
			Hostname: st.labels().Hostname(), Subdomain: st.labels().Subdomain(),
			HostNet: st.labels().HostNetwork(), Ports: st.labels().NamedPorts(),
		}
		for _, c := range pod.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				sp.Ready = true
			}
		}
		out = append(out, sp)
	}
	return out, nil
}

// Endpoints are the Endpoints of the Services, from the pods that run now.
func (r *Runtime) Endpoints(ctx context.Context, services []corev1.Service) ([]corev1.Endpoints, error) {
	pods, err := r.servicePods(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]corev1.Endpoints, 0, len(services))
	for i := range services {
		out = append(out, service.Endpoints(&services[i], pods))
	}
	return out, nil
}

// SyncServices makes the kernel and the DNS records match the stored Services and the
// pods that run: the whole ruleset is computed again and applied in one transaction, the
// records file rewritten. up and down call it after every change; after a reboot the
// next up restores the rules. With no Service left the table goes, and with no pod
// left either the records directory goes.
func (r *Runtime) SyncServices(ctx context.Context) error {
	var services []corev1.Service
	if err := r.Store().View(func(tx *store.Tx) (err error) {
		services, _, err = store.List[corev1.Service](tx, "")
		return err
	}); err != nil {
		return err
	}
	pods, err := r.servicePods(ctx)
	if err != nil {
		return err
	}
	eps := map[string]corev1.Endpoints{}
	for i := range services {
		ep := service.Endpoints(&services[i], pods)
		eps[ep.Namespace+"/"+ep.Name] = ep
	}
	rules := service.Rules(services, eps)
	table := service.TableName(r.cfg.Namespace)
	if len(rules) > 0 || service.Exists(table) {
		if err := service.Apply(table, rules); err != nil {
			return err
		}
	}
	for _, rule := range rules {
		if rule.NodePort != 0 || rule.HostPort != 0 {
			if err := service.RouteLocalnet(r.cfg.Network.Bridge); err != nil {
				return fmt.Errorf("letting NodePorts answer on 127.0.0.1: %w", err)
			}
			break
		}
	}
	dir := r.recordsDir()
	if len(services) == 0 && len(pods) == 0 {
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		os.Remove(filepath.Dir(dir)) // the last namespace's
		return nil
	}
	return clusterdns.WriteRecords(dir, service.BuildRecords(services, eps, upstreams()))
}

// upstreams are the host's nameservers a pod can reach, for names not the cluster's.
func upstreams() []string {
	host, err := network.HostResolvConf(false)
	if err != nil {
		return nil
	}
	conf, _, err := network.ResolvConf(host, corev1.DNSDefault, nil, false)
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(conf), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "nameserver" {
			out = append(out, netJoin(f[1]))
		}
	}
	return out
}

func netJoin(ip string) string {
	if strings.Contains(ip, ":") {
		return "[" + ip + "]:53"
	}
	return ip + ":53"
}

// CheckServicePorts fails, before anything changes, when a NodePort or LoadBalancer
// port of the plan's Services is taken on the host: by a process, or by a kplay pod's
// hostPort. Ports that the same Service already holds are not checked again: kplay's
// rules hold them, not a socket.
func (r *Runtime) CheckServicePorts(ctx context.Context, p *plan.Plan) error {
	var stored []corev1.Service
	if err := r.Store().View(func(tx *store.Tx) (err error) {
		stored, _, err = store.List[corev1.Service](tx, "")
		return err
	}); err != nil {
		return err
	}
	held := map[string]bool{}
	for _, s := range stored {
		for _, port := range hostPorts(&s) {
			held[s.Namespace+"/"+s.Name+"/"+port.String()] = true
		}
	}
	var ports []hostport.Port
	owner := map[string]string{}
	for _, o := range p.Objects {
		s, ok := o.Object.(*corev1.Service)
		if !ok {
			continue
		}
		for _, port := range hostPorts(s) {
			if held[s.Namespace+"/"+s.Name+"/"+port.String()] {
				continue
			}
			if prev, dup := owner[port.String()]; dup {
				return fmt.Errorf("service %s/%s: host port %s is also used by service %s", s.Namespace, s.Name, port, prev)
			}
			owner[port.String()] = s.Namespace + "/" + s.Name
			ports = append(ports, port)
		}
	}
	for _, s := range stored {
		for _, port := range hostPorts(&s) {
			if prev, dup := owner[port.String()]; dup && prev != s.Namespace+"/"+s.Name {
				return fmt.Errorf("service %s: host port %s is already used by service %s/%s", prev, port, s.Namespace, s.Name)
			}
		}
	}
	if len(ports) == 0 {
		return nil
	}
	net, err := r.network()
	if err != nil {
		return err
	}
	holders, err := net.PortHolders("")
	if err != nil {
		return err
	}
	if err := network.CheckPorts(ports, holders); err != nil {
		return fmt.Errorf("a Service cannot listen on the host: %w", err)
	}
	return nil
}

// hostPorts are the ports a Service takes on every host address.
func hostPorts(s *corev1.Service) []hostport.Port {
	var out []hostport.Port
	if s.Spec.Type != corev1.ServiceTypeNodePort && s.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return nil
	}
	for _, p := range s.Spec.Ports {
		if p.NodePort != 0 {
			out = append(out, hostport.Port{HostPort: p.NodePort, Protocol: p.Protocol})
		}
		if s.Spec.Type == corev1.ServiceTypeLoadBalancer {
			out = append(out, hostport.Port{HostPort: p.Port, Protocol: p.Protocol})
		}
	}
	return out
}

// withLoadBalancerStatus shows a LoadBalancer as k3s's ServiceLB does on one node:
// its ingress is the host's address.
func (r *Runtime) withLoadBalancerStatus(s *corev1.Service) *corev1.Service {
	s.Status = corev1.ServiceStatus{}
	if s.Spec.Type == corev1.ServiceTypeLoadBalancer && r.cfg.HostIP != "" {
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: r.cfg.HostIP, IPMode: ptr(corev1.LoadBalancerIPModeVIP)}}
	}
	return s
}
