package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kplay-dev/kplay/pkg/service"
)

// web is a Deployment of busybox httpd pods that answer with their hostname at
// :8080/ and run the CGI scripts the command line writes to cgi-bin.
func web(name string, replicas int, script string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s}
spec:
  replicas: %[2]d
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: httpd
        image: busybox
        command: [sh, -c, 'mkdir -p /w/cgi-bin && hostname > /w/index.html && printf "%%s\n" "#!/bin/sh" "echo Content-Type: text/plain" "echo" %[3]q > /w/cgi-bin/x && chmod +x /w/cgi-bin/x && trap "exit 0" TERM; httpd -f -p 8080 -h /w & wait']
        ports: [{name: http, containerPort: 8080}]
---
`, name, replicas, script)
}

func clusterService(name, typ string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: %[1]s}
spec:
  type: %[2]s
  selector: {app: %[1]s}
  ports: [{port: 80, targetPort: http}]
---
`, name, typ)
}

const clientPod = `apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: [sh, -c, "` + idle + `"]
---
`

// service reads a Service as `kplay get svc NAME -o json` shows it.
func (e *Env) service(name string) corev1.Service {
	e.t.Helper()
	var s corev1.Service
	r := e.MustKplay("get", "svc", name, "-o", "json")
	if err := json.Unmarshal([]byte(r.Stdout), &s); err != nil {
		e.t.Fatalf("get svc %s: %v\n%s", name, err, r)
	}
	return s
}

// waitExec runs cmd in pod until its output contains want, for what only a moment
// after `up` is true (a pod's readiness reaching the rules).
func (e *Env) waitExec(pod, want string, cmd ...string) string {
	e.t.Helper()
	var r Result
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if r = e.Exec(pod, cmd...); r.Code == 0 && strings.Contains(r.Stdout, want) {
			return r.Stdout
		}
	}
	e.t.Fatalf("%s never printed %q; last:\n%s", strings.Join(cmd, " "), want, r)
	return ""
}

func TestServiceThreeTierByName(t *testing.T) {
	e := newEnv(t)
	e.Up(e.Manifest(web("db", 1, "echo db") + clusterService("db", "ClusterIP") +
		web("api", 1, "echo api; wget -qO- http://db/cgi-bin/x") + clusterService("api", "ClusterIP") +
		web("frontend", 1, "echo frontend; wget -qO- http://api.default/cgi-bin/x") + clusterService("frontend", "NodePort")))
	for _, p := range []string{"db-0", "api-0", "frontend-0"} {
		e.WaitRunning(p)
	}
	fe := e.service("frontend")
	np := fe.Spec.Ports[0].NodePort
	if np < 30000 || np > 32767 {
		t.Fatalf("nodePort %d is not in 30000-32767", np)
	}
	body := waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/cgi-bin/x", np), "db")
	if got := strings.Fields(body); strings.Join(got, " ") != "frontend api db" {
		t.Errorf("through all three tiers got %q, want frontend api db", body)
	}
	waitHTTP(t, fmt.Sprintf("http://%s:%d/", hostAddress(t), np), "frontend-0")
	waitHTTP(t, fmt.Sprintf("http://%s/", fe.Spec.ClusterIP), "frontend-0")

	out := e.MustKplay("get", "svc")
	for _, want := range []string{"NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE",
		"frontend", "NodePort", fe.Spec.ClusterIP, fmt.Sprintf("80:%d/TCP", np), "db", "ClusterIP"} {
		contains(t, "get svc", out.Stdout, want)
	}
	contains(t, "get svc -o wide", e.MustKplay("get", "svc", "-o", "wide").Stdout, "app=frontend")
	contains(t, "get endpoints", e.MustKplay("get", "endpoints", "db").Stdout, e.Pods()["db-0"].Status.PodIP+":8080")

	// Stable across ups, and after down and up again.
	e.Up(e.Manifest(clusterService("frontend", "NodePort")))
	if again := e.service("frontend"); again.Spec.ClusterIP != fe.Spec.ClusterIP || again.Spec.Ports[0].NodePort != np {
		t.Errorf("a second up moved frontend from %s:%d to %s:%d", fe.Spec.ClusterIP, np, again.Spec.ClusterIP, again.Spec.Ports[0].NodePort)
	}
}

func TestServiceSpreadsScalesAndRejects(t *testing.T) {
	e := newEnv(t)
	three := e.Manifest(clientPod + web("web", 3, "hostname") + clusterService("web", "ClusterIP"))
	e.Up(three)
	for _, p := range []string{"client", "web-0", "web-1", "web-2"} {
		e.WaitRunning(p)
	}
	fetch30 := []string{"sh", "-c", "for i in $(seq 30); do wget -qO- http://web/ || echo FAILED; done"}
	hits := func() map[string]int {
		n := map[string]int{}
		for _, l := range strings.Fields(e.MustExec("client", fetch30...)) {
			n[l]++
		}
		return n
	}
	got := hits()
	if len(got) != 3 || got["FAILED"] != 0 {
		t.Errorf("30 requests reached %v, want all of web-0, web-1 and web-2", got)
	}
	// A pod reaches itself through its own Service.
	e.waitExec("web-1", "web-", "wget", "-qO-", "http://web.default.svc.cluster.local/")

	e.MustKplay("up", "-q", "--replace", "-f", e.Manifest(clientPod+web("web", 1, "hostname")+clusterService("web", "ClusterIP")))
	if got := hits(); got["web-0"] != 30 {
		t.Errorf("after scaling to 1, 30 requests reached %v, want web-0 only", got)
	}

	// No endpoints: refused at once, from the host and from a pod.
	e.Up(e.Manifest(clusterService("nobody", "ClusterIP")))
	ip := e.service("nobody").Spec.ClusterIP
	start := time.Now()
	c, err := net.DialTimeout("tcp", ip+":80", 5*time.Second)
	if err == nil {
		c.Close()
	}
	took := time.Since(start)
	if !errors.Is(err, syscall.ECONNREFUSED) || took > time.Second {
		t.Errorf("connecting to %s:80 with no endpoints: %v after %s, want connection refused within 1 s", ip, err, took)
	}
	start = time.Now()
	r := e.Exec("client", "wget", "-qO-", "http://nobody/")
	if r.Code == 0 || !strings.Contains(r.Stderr+r.Stdout, "refused") || time.Since(start) > 3*time.Second {
		t.Errorf("wget http://nobody/ from a pod after %s: %s; want connection refused at once", time.Since(start), r)
	}
	contains(t, "get endpoints", e.MustKplay("get", "ep", "nobody").Stdout, "<none>")
	t.Logf("30 requests over 3 endpoints: %v; refused after %s", got, took)
}

func TestServiceHeadlessAndPodNames(t *testing.T) {
	e := newEnv(t)
	pod := func(name string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %[1]s, labels: {app: db}}
spec:
  hostname: %[1]s
  subdomain: db
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: [sh, -c, "%[2]s"]
---
`, name, idle)
	}
	e.Up(e.Manifest(pod("db-a") + pod("db-b") + `apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 5432}]
---
apiVersion: v1
kind: Service
metadata: {name: upstream}
spec:
  type: ExternalName
  externalName: db.default.svc.cluster.local
`))
	a, b := e.WaitRunning("db-a").Status.PodIP, e.WaitRunning("db-b").Status.PodIP
	out := e.Exec("db-a", "nslookup", "db.default.svc.cluster.local").Stdout
	contains(t, "nslookup of the headless service", out, a)
	contains(t, "nslookup of the headless service", out, b)
	// busybox has no getent; ping resolves through libc as getent does (and pods are on this machine).
	contains(t, "a pod FQDN through libc", e.Exec("db-a", "ping", "-c", "1", "-W", "1", "db-b.db.default.svc.cluster.local").Stdout, "("+b+")")
	// busybox nslookup exits 1 when one of its queries (AAAA, a search domain) finds nothing;
	// what it prints is what counts.
	ext := e.Exec("db-a", "nslookup", "upstream").Stdout
	contains(t, "nslookup of an ExternalName", ext, "canonical name = db.default.svc.cluster.local")
	contains(t, "nslookup of an ExternalName", ext, a)
	contains(t, "get svc", e.MustKplay("get", "svc", "db").Stdout, "None")
	r := e.Exec("db-a", "nslookup", "nothing.default.svc.cluster.local")
	if r.Code == 0 || !strings.Contains(r.Stdout+r.Stderr, "NXDOMAIN") {
		t.Errorf("an unknown cluster name: %s; want NXDOMAIN", r)
	}
	resolv := e.MustExec("db-a", "cat", "/etc/resolv.conf")
	for _, want := range []string{"nameserver 127.0.0.53", "search default.svc.cluster.local svc.cluster.local cluster.local", "ndots:5"} {
		contains(t, "resolv.conf", resolv, want)
	}
}

func TestServiceAppliedLaterResolves(t *testing.T) {
	e := newEnv(t)
	e.Up(e.Manifest(clientPod))
	started := func() metav1.Time {
		cs := e.Pods()["client"].Status.ContainerStatuses
		if len(cs) != 1 || cs[0].State.Running == nil {
			t.Fatalf("client is not running: %+v", cs)
		}
		return cs[0].State.Running.StartedAt
	}
	e.WaitRunning("client")
	before := started()
	e.Up(e.Manifest(web("later", 1, "hostname") + clusterService("later", "ClusterIP")))
	e.WaitRunning("later-0")
	ip := e.service("later").Spec.ClusterIP
	contains(t, "nslookup", e.Exec("client", "nslookup", "later").Stdout, ip)
	contains(t, "nslookup", e.Exec("client", "nslookup", "later.default.svc.cluster.local.").Stdout, ip)
	// wget resolves through libc (search list, ndots:5) and connects through the ClusterIP.
	for _, name := range []string{"later", "later.default", "later.default.svc", "later.default.svc.cluster.local"} {
		e.waitExec("client", "later-0", "wget", "-qO-", "http://"+name+"/")
	}
	if now := started(); !now.Equal(&before) {
		t.Errorf("the client pod was restarted: started %v, now %v", before, now)
	}
}

func TestServiceEnvLinksUDPAffinityAndLoadBalancer(t *testing.T) {
	e := newEnv(t)
	e.Up(e.Manifest(web("web", 2, "hostname") + `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: LoadBalancer
  sessionAffinity: ClientIP
  selector: {app: web}
  ports: [{name: http, port: 18081, targetPort: http}]
---
apiVersion: v1
kind: Pod
metadata: {name: echo, labels: {app: echo}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: echo
    image: busybox
    command: ["/udpecho", "9000"]
    volumeMounts:
    - {name: bin, mountPath: /udpecho, readOnly: true}
  volumes:
  - name: bin
    hostPath: {path: ` + udpEchoBin + `, type: File}
---
apiVersion: v1
kind: Service
metadata: {name: echo}
spec:
  selector: {app: echo}
  ports: [{port: 53, targetPort: 9000, protocol: UDP}]
`))
	e.WaitRunning("web-0")
	e.WaitRunning("web-1")
	e.WaitRunning("echo")
	svc := e.service("web")
	ip := svc.Spec.ClusterIP
	if len(svc.Status.LoadBalancer.Ingress) != 1 || svc.Status.LoadBalancer.Ingress[0].IP == "" {
		t.Errorf("LoadBalancer status: %+v, want the host's address", svc.Status.LoadBalancer)
	}

	// Pods created now get the links; enableServiceLinks: false gets none.
	e.Up(e.Manifest(clientPod + `apiVersion: v1
kind: Pod
metadata: {name: nolinks}
spec:
  enableServiceLinks: false
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: [sh, -c, "` + idle + `"]
`))
	e.WaitRunning("client")
	e.WaitRunning("nolinks")
	env := e.MustExec("client", "env")
	for _, want := range []string{"WEB_SERVICE_HOST=" + ip, "WEB_SERVICE_PORT=18081", "WEB_SERVICE_PORT_HTTP=18081",
		"WEB_PORT=tcp://" + ip + ":18081", "WEB_PORT_18081_TCP_ADDR=" + ip, "ECHO_PORT_53_UDP_PROTO=udp"} {
		contains(t, "env of a pod created after the Services", env, want)
	}
	if env := e.MustExec("nolinks", "env"); strings.Contains(env, "_SERVICE_HOST") {
		t.Errorf("enableServiceLinks: false still got service links:\n%s", env)
	}

	// sessionAffinity: ClientIP keeps one client on one endpoint.
	out := e.MustExec("client", "sh", "-c", "for i in $(seq 10); do wget -qO- http://web:18081/; done")
	if seen := uniqueLines(out); len(seen) != 1 {
		t.Errorf("with sessionAffinity ClientIP, 10 requests reached %v, want one pod", seen)
	}
	// The LoadBalancer listens on the host at its port.
	waitHTTP(t, "http://127.0.0.1:18081/", "web-")

	// UDP through the ClusterIP.
	echoIP := e.service("echo").Spec.ClusterIP
	var reply string
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if reply, err = udpRoundTrip(echoIP+":53", "ping"); err == nil && reply == "echo:ping" {
			break
		}
	}
	if reply != "echo:ping" {
		t.Errorf("UDP to %s:53: reply %q, %v", echoIP, reply, err)
	}

	// A port taken on the host fails before anything changes.
	l, err := net.Listen("tcp", "0.0.0.0:18082")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r := e.Kplay("up", "-q", "-f", e.Manifest(web("taken", 1, "hostname")+`apiVersion: v1
kind: Service
metadata: {name: taken}
spec:
  type: LoadBalancer
  selector: {app: taken}
  ports: [{port: 18082, targetPort: http}]
`))
	if r.Code == 0 || !strings.Contains(r.Stderr, "18082") || !strings.Contains(r.Stderr, "in use") {
		t.Errorf("a LoadBalancer on a taken port: %s; want an error naming the port", r)
	}
	if _, ok := e.Pods()["taken-0"]; ok {
		t.Errorf("the failed up created pod taken-0")
	}
}

func TestServiceDownRemovesRules(t *testing.T) {
	e := newEnv(t)
	svc := e.Manifest(clusterService("web", "NodePort"))
	e.Up(e.Manifest(web("web", 1, "hostname")))
	e.Up(svc)
	e.WaitRunning("web-0")
	ip := e.service("web").Spec.ClusterIP
	waitHTTP(t, "http://"+ip+"/", "web-0")
	table := "table ip " + e.NS
	objs, err := nftablesObjects()
	if err != nil {
		t.Fatal(err)
	}
	if !containsLine(objs, table) {
		t.Fatalf("no %s while a Service exists: %v", table, objs)
	}
	// A reboot loses the rules; the next up puts them back.
	if err := service.Apply(service.TableName(e.NS), nil); err != nil {
		t.Fatal(err)
	}
	if objs, _ := nftablesObjects(); containsLine(objs, table) {
		t.Fatalf("%s still there", table)
	}
	e.Up(svc)
	if objs, _ := nftablesObjects(); !containsLine(objs, table) {
		t.Fatalf("up did not restore %s: %v", table, objs)
	}
	waitHTTP(t, "http://"+ip+"/", "web-0")

	e.MustKplay("down", "-f", svc)
	objs, _ = nftablesObjects()
	for _, o := range objs {
		if strings.HasPrefix(o, table) {
			t.Errorf("after down of the last Service: %s", o)
		}
	}
	contains(t, "get svc", e.MustKplay("get", "svc").Stderr, "No resources found")
}

func uniqueLines(s string) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range strings.Fields(s) {
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

func containsLine(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}
