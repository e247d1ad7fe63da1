package plan

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// hashFixture is a pod that reads one ConfigMap through env and another
// through a volume, and a Secret through env.
func hashFixture(mutate func(env, vol *corev1.ConfigMap, sec *corev1.Secret, pod *corev1.Pod)) []runtime.Object {
	env := configMapObj("env-cm", map[string]string{"MODE": "fast", "B": "2", "A": "1"})
	vol := configMapObj("vol-cm", map[string]string{"app.conf": "listen 80"})
	sec := secretObj("sec", map[string]string{"password": "hunter2"})
	pod := podObj("web", corev1.Container{
		Name: "app", Image: "nginx:1.27",
		EnvFrom:      []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "env-cm"}}}},
		Env:          []corev1.EnvVar{{Name: "PW", ValueFrom: secretKey("sec", "password", false)}, {Name: "UID", ValueFrom: field("metadata.uid")}},
		VolumeMounts: []corev1.VolumeMount{{Name: "conf", MountPath: "/etc/app"}},
	})
	pod.Labels = map[string]string{"z": "1", "a": "2", "m": "3"}
	pod.Spec.Volumes = []corev1.Volume{{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "vol-cm"}}}}}
	if mutate != nil {
		mutate(env, vol, sec, pod)
	}
	return []runtime.Object{env, vol, sec, pod}
}

func TestHash(t *testing.T) {
	base := mustBuild(t, hashFixture(nil)...).Pods[0]
	if len(base.Hash) != 16 || len(base.VolumeDataHash) != 16 {
		t.Fatalf("hash %q, volume data hash %q: want 16 hex digits each", base.Hash, base.VolumeDataHash)
	}
	tests := []struct {
		name           string
		mutate         func(env, vol *corev1.ConfigMap, sec *corev1.Secret, pod *corev1.Pod)
		hashChanges    bool
		volDataChanges bool
	}{
		{"same input", func(_, _ *corev1.ConfigMap, _ *corev1.Secret, _ *corev1.Pod) {}, false, false},
		{"maps built in another order", func(env, _ *corev1.ConfigMap, _ *corev1.Secret, pod *corev1.Pod) {
			env.Data = map[string]string{"A": "1", "B": "2", "MODE": "fast"}
			pod.Labels = map[string]string{"m": "3", "a": "2", "z": "1"}
		}, false, false},
		{"volume-only configmap content", func(_, vol *corev1.ConfigMap, _ *corev1.Secret, _ *corev1.Pod) {
			vol.Data["app.conf"] = "listen 8080"
		}, false, true},
		{"volume-only configmap gains a key", func(_, vol *corev1.ConfigMap, _ *corev1.Secret, _ *corev1.Pod) {
			vol.Data["extra.conf"] = "x"
		}, false, true},
		{"env configmap content", func(env, _ *corev1.ConfigMap, _ *corev1.Secret, _ *corev1.Pod) {
			env.Data["MODE"] = "slow"
		}, true, false},
		{"secret value", func(_, _ *corev1.ConfigMap, sec *corev1.Secret, _ *corev1.Pod) {
			sec.Data["password"] = []byte("hunter3")
		}, true, false},
		{"image", func(_, _ *corev1.ConfigMap, _ *corev1.Secret, pod *corev1.Pod) {
			pod.Spec.Containers[0].Image = "nginx:1.28"
		}, true, false},
		{"volume items", func(_, _ *corev1.ConfigMap, _ *corev1.Secret, pod *corev1.Pod) {
			pod.Spec.Volumes[0].ConfigMap.Items = []corev1.KeyToPath{{Key: "app.conf", Path: "x.conf"}}
		}, true, true},
		{"label", func(_, _ *corev1.ConfigMap, _ *corev1.Secret, pod *corev1.Pod) {
			pod.Labels["a"] = "changed"
		}, true, false},
		{"restart policy", func(_, _ *corev1.ConfigMap, _ *corev1.Secret, pod *corev1.Pod) {
			pod.Spec.RestartPolicy = corev1.RestartPolicyNever
		}, true, false},
		{"default written out", func(_, _ *corev1.ConfigMap, _ *corev1.Secret, pod *corev1.Pod) {
			pod.Spec.RestartPolicy = corev1.RestartPolicyAlways
			pod.Spec.Containers[0].ImagePullPolicy = corev1.PullIfNotPresent
		}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustBuild(t, hashFixture(tt.mutate)...).Pods[0]
			if (got.Hash != base.Hash) != tt.hashChanges {
				t.Errorf("hash %s -> %s, want changed=%v", base.Hash, got.Hash, tt.hashChanges)
			}
			if (got.VolumeDataHash != base.VolumeDataHash) != tt.volDataChanges {
				t.Errorf("volume data hash %s -> %s, want changed=%v", base.VolumeDataHash, got.VolumeDataHash, tt.volDataChanges)
			}
			// The UID follows the hash, except for Secret values (see below).
			if (got.UID != base.UID) != (tt.hashChanges && tt.name != "secret value") {
				t.Errorf("UID %s -> %s, want it to follow the hash but for Secret values", base.UID, got.UID)
			}
		})
	}
}

func TestVolumeDataHashEmptyWithoutFileVolumes(t *testing.T) {
	if h := mustBuild(t, podObj("p", ctr("c"))).Pods[0].VolumeDataHash; h != "" {
		t.Errorf("volume data hash %q for a pod without configMap or secret volumes, want empty", h)
	}
}

func TestHashOfHostPath(t *testing.T) {
	pod := func(path string) *corev1.Pod {
		return podWithVolume(corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: path}})
	}
	a := mustBuild(t, pod("data")).Pods[0].Hash
	b := mustBuild(t, pod("/srv/app/data")).Pods[0].Hash
	c := mustBuild(t, pod("/srv/other")).Pods[0].Hash
	if a != b || a == c {
		t.Errorf("hashes %s %s %s: a relative path must hash as its absolute path, another path differently", a, b, c)
	}
}

// The UID is seen by every container and local user (in mount paths): a Secret's
// value changes the spec hash, so the pod is recreated, but not the UID, so nobody
// can test a guess of the secret against it.
func TestUIDDoesNotDependOnSecretValues(t *testing.T) {
	base := mustBuild(t, hashFixture(nil)...).Pods[0]
	other := mustBuild(t, hashFixture(func(_, _ *corev1.ConfigMap, sec *corev1.Secret, _ *corev1.Pod) {
		sec.Data["password"] = []byte("correct horse")
	})...).Pods[0]
	if base.Hash == other.Hash {
		t.Errorf("a changed Secret value left the spec hash at %s: the pod would not be recreated", base.Hash)
	}
	if base.UID != other.UID {
		t.Errorf("the UID follows the Secret's value: %s, then %s", base.UID, other.UID)
	}
	renamed := mustBuild(t, hashFixture(func(_, _ *corev1.ConfigMap, _ *corev1.Secret, pod *corev1.Pod) {
		pod.Spec.Containers[0].Image = "nginx:1.28"
	})...).Pods[0]
	if renamed.UID == base.UID {
		t.Errorf("a changed image kept the UID %s: the UID must follow the rest of the spec", base.UID)
	}
}
