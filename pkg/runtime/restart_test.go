package runtime

import "testing"

func TestRestartingFollowsThePolicy(t *testing.T) {
	watched := map[string]string{"containerd.io/restart.status": "running"}
	onFailure := map[string]string{"containerd.io/restart.status": "running", "containerd.io/restart.policy": "on-failure"}
	always := map[string]string{"containerd.io/restart.status": "running", "containerd.io/restart.policy": "always"}
	for _, tt := range []struct {
		name   string
		labels map[string]string
		code   int32
		want   bool
	}{
		{"1.6 always, failed", watched, 1, true},
		{"1.6 always, completed", watched, 0, true},
		{"always, completed", always, 0, true},
		{"on-failure, failed", onFailure, 1, true},
		{"on-failure, completed", onFailure, 0, false},
		{"not watched", map[string]string{}, 1, false},
	} {
		if got := restarting(tt.labels, tt.code); got != tt.want {
			t.Errorf("%s: restarting = %v, want %v", tt.name, got, tt.want)
		}
	}
}
