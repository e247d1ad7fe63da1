package runtime

import (
	"context"

	cgroup1 "github.com/containerd/cgroups/v3/cgroup1/stats"
	cgroup2 "github.com/containerd/cgroups/v3/cgroup2/stats"
	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/api/types"
	"github.com/containerd/containerd/api/types/task"
	"github.com/containerd/typeurl/v2"
)

// How kplay knows a container was killed for memory. Its exit carries no reason: the
// kubelet learns it from containerd's CRI, which keeps the /tasks/oom event that the shim
// publishes when the kernel's OOM-kill counter of the container's memory cgroup goes up
// (memory.oom_control on cgroup v1, memory.events on v2), and reports OOMKilled for an
// exit after such an event. kplay has no daemon to receive events, but the counter itself
// stays in the exited task's cgroup until the task is deleted, and the task metrics
// containerd serves for it hold it. So kplay reads the counter whenever it reports an
// exited task, and where kplay deletes a task itself (an init container) it reads it first
// and keeps the reason in a label. A run that containerd's restart monitor has already
// replaced took its cgroup along: it counts in restartCount, without a reason.

// oomKilled reports which of the pod's exited tasks were killed for memory.
func (r *Runtime) oomKilled(ctx context.Context, p *podState) map[string]bool {
	var filters []string
	for _, c := range p.Containers {
		if c.Task != nil && c.Task.Status == task.Status_STOPPED {
			filters = append(filters, "id=="+c.ID)
		}
	}
	if len(filters) == 0 {
		return nil
	}
	resp, err := r.client.TaskService().Metrics(ctx, &tasksapi.MetricsRequest{Filters: filters})
	if err != nil {
		// The reason is a detail of the exit, which containerd gave: without it the
		// container shows as exited with Error, as before the OOM counter was read.
		return nil
	}
	oom := map[string]bool{}
	for _, m := range resp.Metrics {
		oom[m.ID] = oomKills(m)
	}
	return oom
}

// oomKills reports whether a task's metrics count a kill for memory.
func oomKills(m *types.Metric) bool {
	if m == nil || m.Data == nil {
		return false
	}
	v, err := typeurl.UnmarshalAny(m.Data)
	if err != nil {
		return false
	}
	switch s := v.(type) {
	case *cgroup1.Metrics:
		return s.GetMemoryOomControl().GetOomKill() > 0
	case *cgroup2.Metrics:
		return s.GetMemoryEvents().GetOomKill() > 0
	}
	return false
}
