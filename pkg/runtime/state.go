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
	// containerd asks every shim for the state of its tasks: a cost per task.
	resp, err := r.client.TaskService().List(ctx, &tasksapi.ListTasksRequest{})
	if err != nil {
		return nil, err
	}
	tasks := make(map[string]*task.Process, len(resp.Tasks))
	for _, t := range resp.Tasks {
		tasks[t.ID] = t
	}
	return group(ctrs, tasks), nil
}

// records lists every kplay pod from the container records alone, without tasks
// (every ctrState.Task is nil): enough to pick pods by name or owner and remove them.
func (r *Runtime) records(ctx context.Context) (map[string]*podState, error) {
	ctrs, err := r.client.ContainerService().List(r.context(ctx))
	if err != nil {
		return nil, err
	}
	return group(ctrs, nil), nil
}

// podRecords reads one pod's container records, without tasks, or nil when it has
// none. Under the pod's lock this is how up and down see the pod as it is now: one
// call, whatever the number of pods.
func (r *Runtime) podRecords(ctx context.Context, namespace, name string) (*podState, error) {
	ctrs, err := r.client.ContainerService().List(r.context(ctx), podstate.PodFilter(namespace, name))
	if err != nil {
		return nil, err
	}
	return group(ctrs, nil)[namespace+"/"+name], nil
}

// group sorts containers into pods, each with its task from tasks when there.
func group(ctrs []containers.Container, tasks map[string]*task.Process) map[string]*podState {
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
	return pods
}
