package plan

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestServiceLinks(t *testing.T) {
	services := []corev1.Service{
		{ObjectMeta: metav1.ObjectMeta{Name: "redis-leader", Namespace: "default"}, Spec: corev1.ServiceSpec{
			ClusterIP: "10.213.16.7", Ports: []corev1.ServicePort{{Name: "redis", Port: 6379}, {Name: "dns-udp", Port: 53, Protocol: corev1.ProtocolUDP}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "headless", Namespace: "default"}, Spec: corev1.ServiceSpec{ClusterIP: "None", Ports: []corev1.ServicePort{{Port: 1}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "elsewhere", Namespace: "prod"}, Spec: corev1.ServiceSpec{ClusterIP: "10.213.16.8", Ports: []corev1.ServicePort{{Port: 2}}}},
	}
	c := ctr("app")
	c.Env = []corev1.EnvVar{{Name: "REDIS_LEADER_SERVICE_PORT", Value: "override"}, {Name: "URL", Value: "redis://$(REDIS_LEADER_SERVICE_HOST)"}}
	p, err := Build(objects(podObj("linked", c)), Options{Services: services})
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Pods[0].Containers[0].Resolve("10.213.0.9")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"REDIS_LEADER_SERVICE_HOST=10.213.16.7",
		"REDIS_LEADER_SERVICE_PORT=override",
		"REDIS_LEADER_SERVICE_PORT_REDIS=6379",
		"REDIS_LEADER_SERVICE_PORT_DNS_UDP=53",
		"REDIS_LEADER_PORT=tcp://10.213.16.7:6379",
		"REDIS_LEADER_PORT_6379_TCP=tcp://10.213.16.7:6379",
		"REDIS_LEADER_PORT_6379_TCP_PROTO=tcp",
		"REDIS_LEADER_PORT_6379_TCP_PORT=6379",
		"REDIS_LEADER_PORT_6379_TCP_ADDR=10.213.16.7",
		"REDIS_LEADER_PORT_53_UDP=udp://10.213.16.7:53",
		"REDIS_LEADER_PORT_53_UDP_PROTO=udp",
		"REDIS_LEADER_PORT_53_UDP_PORT=53",
		"REDIS_LEADER_PORT_53_UDP_ADDR=10.213.16.7",
		"URL=redis://10.213.16.7",
	}
	if !reflect.DeepEqual(res.Env, want) {
		t.Errorf("env:\ngot  %q\nwant %q", res.Env, want)
	}

	// enableServiceLinks: false gets none, and the links are not part of the hash: a
	// Service added later does not make a running pod outdated.
	off := podObj("off", ctr("app"))
	off.Spec.EnableServiceLinks = ptr(false)
	p, err = Build(objects(off, podObj("plain", ctr("app"))), Options{Services: services})
	if err != nil {
		t.Fatal(err)
	}
	if env := p.Pods[0].Containers[0].Env; len(env) != 0 {
		t.Errorf("enableServiceLinks false: %v", env)
	}
	without, err := Build(objects(podObj("plain", ctr("app"))), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Pods[1].Containers[0].Env) == 0 || p.Pods[1].Hash != without.Pods[0].Hash {
		t.Errorf("service links changed the spec hash")
	}
}
