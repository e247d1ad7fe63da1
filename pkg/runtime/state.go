package runtime

import (
	"context"
	"sort"

	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/core/containers"

	"github.com/kplay-dev/kplay/pkg/podstate"
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

// labels reads the container's labels through the codec.
func (c *ctrState) labels() podstate.Labels { return podstate.Labels(c.Labels) }

func (c *ctrState) running() bool {
	return c != nil && c.Task != nil && c.Task.Status == task.Status_RUNNING
}

// labels are the pod-wide facts: UID, hash and the others live on the infra container.
func (p *podState) labels() podstate.Labels {
	if p.Infra == nil {
		return podstate.Labels{}
	}
	return p.Infra.labels()
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
		l := podstate.Labels(c.Labels)
		if !l.Managed() {
			continue
		}
		p := pods[l.Key()]
		if p == nil {
			p = &podState{Namespace: l.Namespace(), Name: l.Name()}
			pods[l.Key()] = p
		}
		cs := &ctrState{Container: c, Task: tasks[c.ID]}
		if l.IsInfra() {
			p.Infra, p.ID = cs, c.ID
		} else {
			p.Containers = append(p.Containers, cs)
		}
	}
	for _, p := range pods {
		sort.Slice(p.Containers, func(i, j int) bool {
			return p.Containers[i].labels().Index() < p.Containers[j].labels().Index()
		})
		if p.ID == "" {
			p.ID = podstate.PodID(p.Namespace, p.Name)
		}
	}
	return pods, nil
}
