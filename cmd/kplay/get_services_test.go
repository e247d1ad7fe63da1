package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"

	"github.com/kplay-dev/kplay/pkg/store"
)

func TestGetServicesAndEndpoints(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: "default", Name: name, CreationTimestamp: metav1.NewTime(now.Add(-90 * time.Second))}
	}
	svcs := []k8sruntime.Object{
		&corev1.Service{ObjectMeta: meta("db"), Spec: corev1.ServiceSpec{ClusterIP: "None", Selector: map[string]string{"app": "db", "tier": "x"},
			Ports: []corev1.ServicePort{{Port: 5432}}}},
		&corev1.Service{ObjectMeta: meta("ext"), Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.org"}},
		&corev1.Service{ObjectMeta: meta("lb"), Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIP: "10.213.16.9",
			Ports: []corev1.ServicePort{{Port: 80, NodePort: 30080}, {Port: 53, NodePort: 30053, Protocol: corev1.ProtocolUDP}}},
			Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "192.0.2.2"}}}}},
	}
	var out, errOut bytes.Buffer
	if err := printStored(&out, &errOut, []storedList{{kind: store.Services, items: svcs, sources: []string{"/a", "/b", "/c"}}},
		&getOptions{Namespace: "default", Output: "wide"}, false, now); err != nil {
		t.Fatal(err)
	}
	want := `
NAME   TYPE           CLUSTER-IP    EXTERNAL-IP   PORT(S)                     AGE   SELECTOR        SOURCE
db     ClusterIP      None          <none>        5432/TCP                    90s   app=db,tier=x   /a
ext    ExternalName   <none>        example.org   <none>                      90s   <none>          /b
lb     LoadBalancer   10.213.16.9   192.0.2.2     80:30080/TCP,53:30053/UDP   90s   <none>          /c
`
	if got := out.String(); got != strings.TrimPrefix(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", got, strings.TrimPrefix(want, "\n"))
	}

	ep := &corev1.Endpoints{ObjectMeta: meta("web"), Subsets: []corev1.EndpointSubset{{
		Addresses: []corev1.EndpointAddress{{IP: "10.0.0.1"}, {IP: "10.0.0.2"}, {IP: "10.0.0.3"}, {IP: "10.0.0.4"}},
		Ports:     []corev1.EndpointPort{{Port: 8080}},
	}}}
	empty := &corev1.Endpoints{ObjectMeta: meta("none")}
	out.Reset()
	if err := printStored(&out, &errOut, []storedList{{kind: kindEndpoints, items: []k8sruntime.Object{empty, ep}, sources: []string{"", ""}}},
		&getOptions{Namespace: "default"}, false, now); err != nil {
		t.Fatal(err)
	}
	want = `
NAME   ENDPOINTS                                               AGE
none   <none>                                                  90s
web    10.0.0.1:8080,10.0.0.2:8080,10.0.0.3:8080 + 1 more...   90s
`
	if got := out.String(); got != strings.TrimPrefix(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", got, strings.TrimPrefix(want, "\n"))
	}
	out.Reset()
	printStored(&out, &errOut, []storedList{{kind: kindEndpoints}}, &getOptions{Output: "json"}, false, now)
	if !strings.Contains(out.String(), `"items": []`) || !strings.Contains(out.String(), `"kind": "List"`) {
		t.Errorf("empty endpoints list: %s", out.String())
	}
}
