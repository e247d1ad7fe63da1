package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// memory sums VmRSS and Pss of what a tool keeps running for its n pods besides the
// app processes: for kplay and the floor each pod's containerd shim and the shim's
// children (pause, log drivers) but the app container's process tree; for podman
// each container's conmon and its children (catatonit) but the app's process tree.
func (b *bench) memory(tool string, n int) (MemSample, error) {
	procs, err := readProcs()
	if err != nil {
		return MemSample{}, err
	}
	var supervisors, apps []int
	if tool == podman {
		supervisors, apps, err = podmanProcesses()
	} else {
		supervisors, apps, err = b.shimProcesses(tool, procs)
	}
	if err != nil {
		return MemSample{}, err
	}
	if len(supervisors) == 0 {
		return MemSample{}, fmt.Errorf("no shim or conmon found for %d pods", n)
	}
	counted := procs.tree(supervisors)
	for pid := range procs.tree(apps) {
		delete(counted, pid)
	}
	m := MemSample{Tool: tool, Pods: n, Processes: len(counted)}
	for pid := range counted {
		rss, pss := usage(pid)
		m.RSSKiB += rss
		m.PssKiB += pss
	}
	for _, pid := range supervisors {
		rss, pss := usage(pid)
		m.SupervisorRSSKiB += rss
		m.SupervisorPssKiB += pss
	}
	return m, nil
}

// shimProcesses finds the shims of kplay's or the floor's namespace, and the app
// tasks: every task but the one each shim was started for, the pause container
// (a pod's first container, whose ID is its shim group).
func (b *bench) shimProcesses(tool string, procs processes) (shims, apps []int, err error) {
	ns := b.namespace
	if tool == floor {
		ns = b.floorNamespace
	}
	groups := map[string]bool{}
	for pid, p := range procs {
		if len(p.args) == 0 || filepath.Base(p.args[0]) != "containerd-shim-runc-v2" || argAfter(p.args, "-namespace") != ns {
			continue
		}
		shims = append(shims, pid)
		groups[argAfter(p.args, "-id")] = true
	}
	tasks, err := b.tasks(tool)
	if err != nil {
		return nil, nil, err
	}
	for _, t := range tasks {
		if !groups[t.id] && t.pid > 0 {
			apps = append(apps, t.pid)
		}
	}
	return shims, apps, nil
}

func argAfter(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// podmanProcesses finds the conmon of every container of the bench's pods and the
// app containers' processes.
func podmanProcesses() (conmons, apps []int, err error) {
	out, err := quiet("podman", "ps", "--pod", "--filter", "status=running", "--format", "{{.ID}} {{.PodName}}")
	if err != nil {
		return nil, nil, err
	}
	var ids []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 && strings.HasPrefix(f[1], "bench-pod-") {
			ids = append(ids, f[0])
		}
	}
	if len(ids) == 0 {
		return nil, nil, nil
	}
	out, err = quiet(append([]string{"podman", "inspect", "--format", "{{.State.ConmonPid}} {{.State.Pid}} {{.IsInfra}}"}, ids...)...)
	if err != nil {
		return nil, nil, err
	}
	for _, line := range strings.Split(out, "\n") {
		var conmon, pid int
		var infra bool
		if _, err := fmt.Sscan(line, &conmon, &pid, &infra); err != nil {
			continue
		}
		conmons = append(conmons, conmon)
		if !infra {
			apps = append(apps, pid)
		}
	}
	return conmons, apps, nil
}

type process struct {
	ppid int
	args []string
}

type processes map[int]process

func readProcs() (processes, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	ps := processes{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue // gone
		}
		// The command name in parentheses may hold spaces; ppid is the second field after it.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		ps[pid] = process{ppid: ppid, args: strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")}
	}
	return ps, nil
}

// tree is the set of roots and all their descendants.
func (ps processes) tree(roots []int) map[int]bool {
	children := map[int][]int{}
	for pid, p := range ps {
		children[p.ppid] = append(children[p.ppid], pid)
	}
	set := map[int]bool{}
	queue := append([]int(nil), roots...)
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		if set[pid] {
			continue
		}
		set[pid] = true
		queue = append(queue, children[pid]...)
	}
	return set
}

// usage reads a process's VmRSS and Pss in KiB; a process that is gone counts 0.
func usage(pid int) (rss, pss int64) {
	rss = kib(fmt.Sprintf("/proc/%d/status", pid), "VmRSS:")
	pss = kib(fmt.Sprintf("/proc/%d/smaps_rollup", pid), "Pss:")
	return rss, pss
}

func kib(path, field string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), field); ok {
			v, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return v
		}
	}
	return 0
}
