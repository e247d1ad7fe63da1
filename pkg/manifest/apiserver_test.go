package manifest

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

const podHead = `apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
`

// TestAPIServerCases are manifests on which kplay's hand-written validation and
// the API server disagreed; the expectations are the API server's.
func TestAPIServerCases(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       string // a substring of the error; "" means accepted
	}{
		{"terminationMessagePolicy: Always", podHead + `  containers:
  - {name: c, image: nginx, terminationMessagePolicy: Always}
`, `The Pod "web" is invalid: spec.containers[0].terminationMessagePolicy: Unsupported value: "Always"`},
		{"fsGroup: -1", podHead + `  securityContext: {fsGroup: -1}
  containers: [{name: c, image: nginx}]
`, `spec.securityContext.fsGroup: Invalid value: -1`},
		{"a kubernetes.io/tls Secret without tls.crt", `apiVersion: v1
kind: Secret
metadata: {name: tls}
type: kubernetes.io/tls
data: {tls.key: a2V5}
`, `The Secret "tls" is invalid: data[tls.crt]: Required value`},
		{"storageClassName: Bad_Class", `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  storageClassName: Bad_Class
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
`, `The PersistentVolumeClaim "data" is invalid: spec.storageClassName: Invalid value: "Bad_Class"`},
		{"dnsPolicy: None without nameservers", podHead + `  dnsPolicy: None
  dnsConfig: {searches: [example.com]}
  containers: [{name: c, image: nginx}]
`, `spec.dnsConfig.nameservers: Required value`},
		{"extended resources with 500m", podHead + `  containers:
  - name: c
    image: nginx
    resources: {limits: {example.com/gpu: 500m}, requests: {example.com/gpu: 500m}}
`, `spec.containers[0].resources.requests[example.com/gpu]: Invalid value: "500m": must be an integer`},
		// ContainerStopSignals is alpha and off by default in v1.37: the API server
		// drops lifecycle.stopSignal on create (DropDisabledPodFields), valid or not.
		{"a stopSignal that is no signal, dropped with its feature gate off", podHead + `  os: {name: linux}
  containers:
  - name: c
    image: nginx
    lifecycle: {stopSignal: SIGNOPE}
`, ""},
		{"affinity with an unknown operator", podHead + `  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions: [{key: disk, operator: Near, values: [ssd]}]
  containers: [{name: c, image: nginx}]
`, `operator: Invalid value: "Near": not a valid selector operator`},
		{"kind: Configmap", `apiVersion: v1
kind: Configmap
metadata: {name: cfg}
`, `no matches for kind "Configmap" in version "v1"`},
		{"apps/v1 Pod", `apiVersion: apps/v1
kind: Pod
metadata: {name: web}
`, `no matches for kind "Pod" in version "apps/v1": the API server serves Pod in "v1"`},
		{"privileged is allowed", podHead + `  containers:
  - {name: c, image: nginx, securityContext: {privileged: true}}
`, ""},
		{"a volume with no source", podHead + `  volumes: [{name: scratch}]
  containers:
  - {name: c, image: nginx, volumeMounts: [{name: scratch, mountPath: /scratch}]}
`, ""},
		{"terminationGracePeriodSeconds: -1", podHead + `  terminationGracePeriodSeconds: -1
  containers: [{name: c, image: nginx}]
`, ""},
		// The API server takes any hostIP; kplay's port publishing needs an address.
		{"hostIP: localhost is kplay's limit", podHead + `  containers:
  - {name: c, image: nginx, ports: [{containerPort: 80, hostPort: 8080, hostIP: localhost}]}
`, `kplay cannot run Pod "web": spec.containers[0].ports[0].hostIP: Invalid value: "localhost": kplay publishes host ports`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, _, err := Load([]string{"-"}, strings.NewReader(tt.yaml))
			if err == nil {
				_, err = Validate(objs)
			}
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && err == nil:
				t.Errorf("accepted, want %s", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Errorf("got  %v\nwant %s", err, tt.want)
			}
		})
	}
}

// TestAPIServerDefaults checks that Validate leaves the objects as the API server
// stores them.
func TestAPIServerDefaults(t *testing.T) {
	objs, _, err := Load([]string{"-"}, strings.NewReader(podHead+`  terminationGracePeriodSeconds: -1
  volumes: [{name: scratch}]
  containers: [{name: c, image: nginx, ports: [{containerPort: 80}]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Validate(objs); err != nil {
		t.Fatal(err)
	}
	pod := objs[0].Object.(*corev1.Pod)
	if pod.Spec.Volumes[0].EmptyDir == nil {
		t.Error("a volume with no source is not an emptyDir")
	}
	if g := pod.Spec.TerminationGracePeriodSeconds; g == nil || *g != 1 {
		t.Errorf("terminationGracePeriodSeconds -1 became %v, want 1", g)
	}
	c := pod.Spec.Containers[0]
	if pod.Spec.RestartPolicy != corev1.RestartPolicyAlways || pod.Spec.DNSPolicy != corev1.DNSClusterFirst ||
		c.ImagePullPolicy != corev1.PullAlways || c.Ports[0].Protocol != corev1.ProtocolTCP ||
		c.TerminationMessagePolicy != corev1.TerminationMessageReadFile {
		t.Errorf("not defaulted: %+v", pod.Spec)
	}
	if pod.Namespace != "" || pod.Kind != "Pod" || pod.APIVersion != "v1" {
		t.Errorf("namespace %q, kind %q, apiVersion %q: want the user's", pod.Namespace, pod.Kind, pod.APIVersion)
	}
}
