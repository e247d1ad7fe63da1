package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"syscall"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/runtime/restart"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/errdefs"
	"golang.org/x/term"
)

// find returns a pod's container, app or init (see podState.container).
func (r *Runtime) find(ctx context.Context, namespace, pod, container string) (*podState, *ctrState, string, error) {
	pods, err := r.pods(ctx)
	if err != nil {
		return nil, nil, "", err
	}
	p := pods[namespace+"/"+pod]
	if p == nil {
		return nil, nil, "", fmt.Errorf("%w: pod %q not found in namespace %q", errdefs.ErrNotFound, pod, namespace)
	}
	c, note, err := p.container(container)
	if err != nil {
		return nil, nil, "", err
	}
	return p, c, note, nil
}

// container picks the named container or, when name is empty, the one kubectl would:
// the pod's default-container annotation, else the first app container, with kubectl's
// note naming the others when there are any. It says why not when it cannot: an init
// container still runs, the container was not created yet, the name is not the pod's.
func (p *podState) container(container string) (*ctrState, string, error) {
	var inits []string
	var initRunning string // the init container the pod waits for
	created := map[string]*ctrState{}
	for _, c := range p.Containers {
		name := c.labels().Container()
		if name == container {
			return c, "", nil
		}
		if c.labels().IsInit() {
			inits = append(inits, name)
			if c.running() {
				initRunning = name
			}
		} else {
			created[name] = c
		}
	}
	// App containers are created after the init containers: the infra container names them all.
	names := p.labels().AppContainers()
	for _, c := range p.Containers {
		if name := c.labels().Container(); created[name] != nil && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	waitingFor := ""
	if initRunning != "" {
		waitingFor = fmt.Sprintf(": init container %q is still running", initRunning)
	}
	note := ""
	if container == "" && len(names) > 0 {
		if d := p.labels().DefaultContainer(); d != "" && slices.Contains(names, d) {
			container = d
		} else {
			container = names[0]
			if len(names) > 1 || len(inits) > 0 {
				all := slices.Clone(names)
				for _, n := range inits {
					all = append(all, n+" (init)")
				}
				note = fmt.Sprintf("Defaulted container %q out of: %s", container, strings.Join(all, ", "))
			}
		}
		if c := created[container]; c != nil {
			return c, note, nil
		}
		if initRunning != "" {
			return nil, "", fmt.Errorf("%w: pod %s is still running init container %q (app containers start when the init containers are done): to use it, pass -c %s", errdefs.ErrFailedPrecondition, p.key(), initRunning, initRunning)
		}
	}
	switch {
	case container == "":
		return nil, "", fmt.Errorf("%w: pod %s has no containers", errdefs.ErrNotFound, p.key())
	case slices.Contains(names, container):
		return nil, "", fmt.Errorf("%w: container %q of pod %s has not started yet%s", errdefs.ErrFailedPrecondition, container, p.key(), waitingFor)
	}
	valid := strings.Join(names, ", ")
	if len(inits) > 0 {
		valid += fmt.Sprintf(" (init containers: %s)", strings.Join(inits, ", "))
	}
	return nil, "", fmt.Errorf("%w: container %q is not valid for pod %s: choose one of %s", errdefs.ErrNotFound, container, p.key(), valid)
}

// ExecOptions name the container and the command to run in it.
type ExecOptions struct {
	Namespace, Pod, Container string
	Args                      []string
	Stdin                     io.Reader // nil: no stdin
	Stdout, Stderr            io.Writer
	TTY                       bool
}

// Exec runs a command in a running container as its own process runs: same user,
// environment and working directory. It returns the command's exit code.
func (r *Runtime) Exec(ctx context.Context, o ExecOptions) (int, error) {
	ctx = r.context(ctx)
	_, c, note, err := r.find(ctx, o.Namespace, o.Pod, o.Container)
	if err != nil {
		return 0, err
	}
	if note != "" && o.Stderr != nil {
		fmt.Fprintln(o.Stderr, note)
	}
	if !c.running() {
		return 0, fmt.Errorf("%w: container %q of pod %s/%s is not running", errdefs.ErrFailedPrecondition, c.labels().Container(), o.Namespace, o.Pod)
	}
	ctr, err := r.client.LoadContainer(ctx, c.ID)
	if err != nil {
		return 0, err
	}
	spec, err := ctr.Spec(ctx)
	if err != nil {
		return 0, err
	}
	t, err := ctr.Task(ctx, nil)
	if err != nil {
		return 0, err
	}
	pspec := *spec.Process
	pspec.Args = o.Args
	pspec.Terminal = o.TTY

	// cio copies stdin into the process but never tells the shim it ended; a pipe lets
	// kplay close the process's stdin when the user's input ends, as `kubectl exec -i` does.
	var stdin io.Reader
	var stdinW *io.PipeWriter
	if o.Stdin != nil {
		stdin, stdinW = io.Pipe()
	}
	ioOpts := []cio.Opt{cio.WithStreams(stdin, o.Stdout, o.Stderr)}
	if o.TTY {
		ioOpts = append(ioOpts, cio.WithTerminal)
		if f, ok := o.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			old, err := term.MakeRaw(int(f.Fd()))
			if err == nil {
				defer term.Restore(int(f.Fd()), old)
			}
		}
	}
	id := make([]byte, 6)
	rand.Read(id)
	proc, err := t.Exec(ctx, "exec-"+hex.EncodeToString(id), &pspec, cio.NewCreator(ioOpts...))
	if err != nil {
		return 0, fmt.Errorf("exec in container %q: %w", c.labels().Container(), err)
	}
	defer proc.Delete(context.WithoutCancel(ctx), client.WithProcessKill)
	// The wait is not tied to ctx: a wait cut short by ctx ends with an exit status too,
	// and the select below could take that for the process's exit, skip the kill and
	// then wait for its output to end (an exec probe with timeoutSeconds 1 ran its
	// `sleep 20` to the end).
	exitC, err := proc.Wait(context.WithoutCancel(ctx))
	if err != nil {
		return 0, err
	}
	// Not cut short by ctx: a start cancelled half-way may start the process after
	// the kill below. Once started, the process is killed when ctx ends.
	if err := proc.Start(context.WithoutCancel(ctx)); err != nil {
		return 0, fmt.Errorf("exec in container %q: %w", c.labels().Container(), err)
	}
	if stdinW != nil {
		go func() {
			io.Copy(stdinW, o.Stdin)
			proc.CloseIO(ctx, client.WithStdinCloser)
			stdinW.Close()
		}()
	}
	if o.TTY {
		if f, ok := o.Stdout.(*os.File); ok {
			if w, h, err := term.GetSize(int(f.Fd())); err == nil {
				proc.Resize(ctx, uint32(w), uint32(h))
			}
		}
	}
	var st client.ExitStatus
	select {
	case st = <-exitC:
	case <-ctx.Done():
		proc.Kill(context.WithoutCancel(ctx), syscall.SIGKILL)
		return 0, ctx.Err()
	}
	proc.IO().Wait()
	code, _, err := st.Result()
	if err != nil {
		return 0, err
	}
	return int(code), nil
}

// LogFile is where a container's log is and whether the container still runs.
type LogFile struct {
	Path    string
	Running func() bool
	// Note is kubectl's "Defaulted container ..." when no container was named and the
	// pod has others; the caller prints it on stderr.
	Note string
}

// Log finds a container's log file.
func (r *Runtime) Log(ctx context.Context, namespace, pod, container string) (LogFile, error) {
	ctx = r.context(ctx)
	p, c, note, err := r.find(ctx, namespace, pod, container)
	if err != nil {
		return LogFile{}, err
	}
	id := c.ID
	return LogFile{
		Note: note,
		Path: r.dirs(p.labels().UID()).Log(c.labels().Container()),
		Running: func() bool {
			pods, err := r.pods(ctx)
			if err != nil {
				return false
			}
			st := pods[p.key()]
			if st == nil {
				return false
			}
			for _, cc := range st.Containers {
				if cc.ID == id {
					return cc.running() || cc.Labels[restart.StatusLabel] == "running"
				}
			}
			return false
		},
	}, nil
}
