package runtime

import (
	"context"
	"sort"
	"strconv"
	"time"

	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/core/containers"

	"github.com/kplay-dev/kplay/pkg/labels"
)

// podState is one pod as containerd has it, read from labels and task states.
type podState struct {
	Namespace, Name string
	ID              string // infra container ID
	Infra           *ctrState
	Containers      []*ctrState // init then app containers, in spec order
}

// ctrState is one container and its task, if any.
type ctrState struct {
	containers.Container
	Task *task.Process // nil when the container has no task
}

func (c *ctrState) label(k string) string { return c.Labels[k] }

func (c *ctrState) running() bool {
	return c != nil && c.Task != nil && c.Task.Status == task.Status_RUNNING
}

// UID, Hash and the other pod-wide facts live on the infra container.
func (p *podState) label(k string) string {
	if p.Infra == nil {
		return ""
	}
	return p.Infra.label(k)
}

func (p *podState) created() time.Time {
	t, _ := time.Parse(time.RFC3339, p.label(labels.Created))
	return t
}

// key is "namespace/name".
func (p *podState) key() string { return p.Namespace + "/" + p.Name }

// pods lists every kplay pod with one call for containers and one for tasks.
func (r *Runtime) pods(ctx context.Context) (map[string]*podState, error) {
	ctx = r.context(ctx)
	ctrs, err := r.client.ContainerService().List(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := r.client.TaskService().List(ctx, &tasksapi.ListTasksRequest{})
	if err != nil {
		return nil, err
	}
	tasks := make(map[string]*task.Process, len(resp.Tasks))
	for _, t := range resp.Tasks {
		tasks[t.ID] = t
	}
	pods := map[string]*podState{}
	for _, c := range ctrs {
		role := c.Labels[labels.Role]
		if role == "" {
			continue
		}
		ns, name := c.Labels[labels.PodNamespace], c.Labels[labels.PodName]
		p := pods[ns+"/"+name]
		if p == nil {
			p = &podState{Namespace: ns, Name: name}
			pods[ns+"/"+name] = p
		}
		cs := &ctrState{Container: c, Task: tasks[c.ID]}
		if role == labels.RoleInfra {
			p.Infra, p.ID = cs, c.ID
		} else {
			p.Containers = append(p.Containers, cs)
		}
	}
	for _, p := range pods {
		sort.Slice(p.Containers, func(i, j int) bool {
			a, _ := strconv.Atoi(p.Containers[i].label(labels.Index))
			b, _ := strconv.Atoi(p.Containers[j].label(labels.Index))
			return a < b
		})
		if p.ID == "" {
			p.ID = podID(p.Namespace, p.Name)
		}
	}
	return pods, nil
}
