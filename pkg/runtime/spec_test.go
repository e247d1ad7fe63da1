package runtime

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// The kubelet's MilliCPUToShares and MilliCPUToQuota (pkg/kubelet/cm), with the request
// defaulting to the limit as the API server and the kubelet default it.
func TestResourcesFollowTheKubelet(t *testing.T) {
	list := func(kv ...string) corev1.ResourceList {
		l := corev1.ResourceList{}
		for i := 0; i < len(kv); i += 2 {
			l[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
		}
		return l
	}
	for _, tt := range []struct {
		name          string
		res           corev1.ResourceRequirements
		shares        uint64 // 0: not set, the runtime's default weight
		quota, period int64  // 0: no CFS quota
		memory        int64  // 0: no memory limit
	}{
		{"nothing", corev1.ResourceRequirements{}, 0, 0, 0, 0},
		{"request only", corev1.ResourceRequirements{Requests: list("cpu", "250m")}, 256, 0, 0, 0},
		{"limit only: the request defaults to it", corev1.ResourceRequirements{Limits: list("cpu", "500m")}, 512, 50000, 100000, 0},
		{"request and limit", corev1.ResourceRequirements{Requests: list("cpu", "100m"), Limits: list("cpu", "2")}, 102, 200000, 100000, 0},
		{"tiny request: at least 2 shares", corev1.ResourceRequirements{Requests: list("cpu", "1m")}, 2, 0, 0, 0},
		{"tiny limit: at least 1000 of quota", corev1.ResourceRequirements{Limits: list("cpu", "1m")}, 2, 1000, 100000, 0},
		{"huge request: at most 262144 shares", corev1.ResourceRequirements{Requests: list("cpu", "300")}, 262144, 0, 0, 0},
		{"memory limit", corev1.ResourceRequirements{Limits: list("memory", "64Mi")}, 0, 0, 0, 64 << 20},
		{"memory request reserves nothing", corev1.ResourceRequirements{Requests: list("memory", "64Mi")}, 0, 0, 0, 0},
	} {
		s := spec(t, withResources(tt.res)...)
		var r = s.Linux.Resources
		var shares uint64
		var quota int64
		var period uint64
		var memory int64
		if r.CPU != nil {
			if r.CPU.Shares != nil {
				shares = *r.CPU.Shares
			}
			if r.CPU.Quota != nil {
				quota = *r.CPU.Quota
			}
			if r.CPU.Period != nil {
				period = *r.CPU.Period
			}
		}
		if r.Memory != nil && r.Memory.Limit != nil {
			memory = *r.Memory.Limit
		}
		if shares != tt.shares || quota != tt.quota || int64(period) != tt.period || memory != tt.memory {
			t.Errorf("%s: shares %d, quota %d/%d, memory %d; want shares %d, quota %d/%d, memory %d",
				tt.name, shares, quota, period, memory, tt.shares, tt.quota, tt.period, tt.memory)
		}
	}
}

// fsGroup joins every container's supplementary groups, after supplementalGroups, as the
// kubelet adds it; the container's own security context does not drop it.
func TestFSGroupIsASupplementaryGroup(t *testing.T) {
	pod := &corev1.PodSecurityContext{SupplementalGroups: []int64{100, 200}, FSGroup: ptr(int64(2000))}
	c := &corev1.SecurityContext{RunAsUser: ptr(int64(1000)), RunAsGroup: ptr(int64(1000))}
	s, _ := securitySpec(t, mergeSecurityContext(pod, c), securityConfig{})
	for _, g := range []uint32{100, 200, 2000} {
		if !slices.Contains(s.Process.User.AdditionalGids, g) {
			t.Errorf("additional gids %v lack %d", s.Process.User.AdditionalGids, g)
		}
	}
	if u := s.Process.User; u.UID != 1000 || u.GID != 1000 {
		t.Errorf("user %d:%d, want 1000:1000", u.UID, u.GID)
	}
}

// A later list replaces a variable in place: the image's ENV overrides the default PATH
// where PATH stands, the pod's env the image's, and new names are appended in order.
func TestMergeEnvReplacesInPlace(t *testing.T) {
	got := mergeEnv(
		[]string{"HOSTNAME=web", "PATH=/default"},
		[]string{"PATH=/image", "LANG=C"},
		[]string{"B=1", "LANG=en", "A=2"},
	)
	want := []string{"HOSTNAME=web", "PATH=/image", "LANG=en", "B=1", "A=2"}
	if !slices.Equal(got, want) {
		t.Errorf("mergeEnv = %v, want %v", got, want)
	}
}
