package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/kplay-dev/kplay/pkg/podstate"
	"github.com/kplay-dev/kplay/pkg/store"
)

// scope is what one leak check looks at besides the machine-wide lists.
type scope struct {
	Namespaces []string // containerd namespaces; "kplay-e2e-*" means every e2e namespace
	Roots      []string // kplay --run-root and --data-root
}

// suiteScope covers every namespace and root the e2e tests may have used.
func suiteScope() scope {
	return scope{Namespaces: []string{"kplay-e2e-*"}, Roots: []string{suiteDir}}
}

// snapshot is the part of the machine that kplay changes when it runs pods. Each entry is a
// line a human can read in a failure message, grouped by what it is.
type snapshot map[string][]string

func takeSnapshot(s scope) (snapshot, error) {
	snap := snapshot{}
	var err error
	if snap["link"], err = links(); err != nil {
		return nil, err
	}
	if snap["ip netns"], err = netnsNames(); err != nil {
		return nil, err
	}
	if snap["iptables"], err = iptablesRules(); err != nil {
		return nil, err
	}
	if snap["nftables"], err = nftablesObjects(); err != nil {
		return nil, err
	}
	snap["mount"] = mounts(s)
	// CNI's default IPAM directory too, in case kplay's own dataDir setting got lost.
	snap["file"] = stateFiles(append([]string{"/var/lib/cni/networks"}, s.Roots...))
	snap["shim"] = shims(s.Namespaces)
	snap["process"], snap["cgroup"] = containerProcesses(s.Namespaces)
	if snap["stored object"], err = storedObjects(s); err != nil {
		return nil, err
	}
	for _, ns := range namespaces(s.Namespaces) {
		for _, kind := range []string{"containers", "tasks", "leases"} {
			out, err := lines("ctr", "-n", ns, kind, "ls", "-q")
			if err != nil {
				return nil, err
			}
			for _, l := range out {
				snap["containerd "+kind] = append(snap["containerd "+kind], ns+"/"+l)
			}
		}
		out, err := lines("ctr", "-n", ns, "snapshots", "ls")
		if err != nil {
			return nil, err
		}
		for _, l := range out {
			// Committed snapshots are image layers; an Active one belongs to a container.
			if f := strings.Fields(l); len(f) >= 2 && f[len(f)-1] == "Active" {
				snap["containerd snapshots"] = append(snap["containerd snapshots"], ns+"/"+f[0])
			}
		}
	}
	return snap, nil
}

// leaks lists what after has that before had not. CNI keeps a few top-level iptables chains
// and their jumps once created; those are not a pod's leftovers.
func leaks(before, after snapshot) []string {
	var out []string
	for kind, items := range after {
		had := map[string]int{}
		for _, i := range before[kind] {
			had[i]++
		}
		for _, i := range items {
			if had[i] > 0 {
				had[i]--
				continue
			}
			if kind == "iptables" && cniTopLevel.MatchString(i) {
				continue
			}
			out = append(out, kind+": "+i)
		}
	}
	sort.Strings(out)
	return out
}

var cniTopLevel = regexp.MustCompile(`^(:CNI-(HOSTPORT-[A-Z]+|FORWARD|ADMIN) |-A [A-Z]+ .*-j CNI-(HOSTPORT-[A-Z]+|FORWARD|ADMIN)$)`)

// waitNoLeaks compares the machine with before until nothing is left or 10 s have passed:
// shims exit and containerd collects garbage shortly after the last task is deleted.
func waitNoLeaks(before snapshot, s scope) []string {
	var found []string
	for deadline := time.Now().Add(10 * time.Second); ; {
		after, err := takeSnapshot(s)
		if err != nil {
			return []string{err.Error()}
		}
		if found = leaks(before, after); len(found) == 0 || time.Now().After(deadline) {
			return found
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func lines(name string, args ...string) ([]string, error) {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		return nil, fmt.Errorf("%s %s: %v %s", name, strings.Join(args, " "), err, stderr)
	}
	var ls []string
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			ls = append(ls, l)
		}
	}
	return ls, nil
}

// links lists network interfaces by name and kind ("veth12ab veth"), from `ip -o -d link`.
func links() ([]string, error) {
	out, err := lines("ip", "-o", "link", "show")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, l := range out {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		names = append(names, name)
	}
	return names, nil
}

// netnsNames is `ip netns list` without the "(id: N)" the kernel may add to a name later.
func netnsNames() ([]string, error) {
	out, err := lines("ip", "netns", "list")
	for i, l := range out {
		out[i], _, _ = strings.Cut(l, " ")
	}
	return out, err
}

var counters = regexp.MustCompile(`\s*\[\d+:\d+\]`)

// iptablesRules is `iptables-save` without comments and counters.
func iptablesRules() ([]string, error) {
	out, err := lines("iptables-save")
	if err != nil {
		return nil, err
	}
	var rules []string
	for _, l := range out {
		if strings.HasPrefix(l, "#") {
			continue
		}
		rules = append(rules, counters.ReplaceAllString(l, ""))
	}
	return rules, nil
}

// mounts lists mount points under the scope's roots and in the containerd task directories
// of its namespaces.
func mounts(s scope) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return []string{err.Error()}
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := fields[4]
		keep := false
		for _, r := range s.Roots {
			keep = keep || mp == r || strings.HasPrefix(mp, r+"/")
		}
		for _, ns := range s.Namespaces {
			pattern := "/io.containerd.runtime.v2.task/" + strings.TrimSuffix(ns, "*")
			keep = keep || strings.Contains(mp, pattern)
		}
		if keep {
			out = append(out, mp)
		}
	}
	return out
}

// stateFiles lists files under the roots that only exist while a pod does: host-local IPAM
// reservations (files named by an IP address) and network namespace pins.
func stateFiles(roots []string) []string {
	var out []string
	for _, root := range roots {
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			// IP reservations, netns pins, and the lock files of pods (removed with them).
			if net.ParseIP(d.Name()) != nil || strings.Contains(path, "netns") ||
				strings.HasPrefix(d.Name(), "pod-") && strings.HasSuffix(d.Name(), ".lock") {
				out = append(out, path)
			}
			return nil
		})
	}
	return out
}

// storedObjects lists what kplay's stores under the roots hold for the namespaces (a
// namespace that only stores objects has no containerd namespace): after down --all a
// store may remain, but empty.
func storedObjects(s scope) ([]string, error) {
	var out []string
	for _, root := range s.Roots {
		var dataRoots []string
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if dr := filepath.Dir(filepath.Dir(path)); err == nil && !d.IsDir() && path == (podstate.Layout{DataRoot: dr}).StorePath() {
				dataRoots = append(dataRoots, dr)
			}
			return nil
		})
		for _, dr := range dataRoots {
			nss, err := store.Namespaces(podstate.Layout{DataRoot: dr}.StorePath())
			if err != nil {
				return nil, err
			}
			for _, ns := range nss {
				if !matchesNamespace(s.Namespaces, ns) {
					continue
				}
				err := store.New(podstate.Layout{DataRoot: dr}.StorePath(), ns).View(func(tx *store.Tx) error {
					keys, err := tx.Keys(store.Kinds...)
					for _, k := range keys {
						out = append(out, ns+" "+k.String()+" in "+dr)
					}
					return err
				})
				if err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}

func matchesNamespace(patterns []string, ns string) bool {
	for _, p := range patterns {
		if prefix, wild := strings.CutSuffix(p, "*"); ns == p || wild && strings.HasPrefix(ns, prefix) {
			return true
		}
	}
	return false
}

// namespaces expands "prefix*" patterns against containerd's namespace list.
func namespaces(patterns []string) []string {
	all, _ := lines("ctr", "namespaces", "ls", "-q")
	var out []string
	for _, p := range patterns {
		prefix, wild := strings.CutSuffix(p, "*")
		for _, ns := range all {
			if ns == p || wild && strings.HasPrefix(ns, prefix) {
				out = append(out, ns)
			}
		}
	}
	return out
}

// shims lists containerd-shim processes serving the namespaces, by pid and command line.
func shims(patterns []string) []string {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var out []string
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte("containerd-shim")) {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		for i := 0; i+1 < len(args); i++ {
			if args[i] != "-namespace" {
				continue
			}
			for _, pat := range patterns {
				prefix, wild := strings.CutSuffix(pat, "*")
				if args[i+1] == pat || wild && strings.HasPrefix(args[i+1], prefix) {
					out = append(out, filepath.Base(filepath.Dir(p))+" "+strings.Join(args, " "))
				}
			}
		}
	}
	return out
}

// containerProcesses lists the processes in the cgroups of the namespaces' containers
// (containerd puts a container in /<namespace>/<id> of each hierarchy) and those
// cgroups: a container process that outlived its shim and record is found here.
func containerProcesses(patterns []string) (procs, cgroups []string) {
	for _, root := range []string{"/sys/fs/cgroup/pids", "/sys/fs/cgroup"} {
		if _, err := os.Stat(filepath.Join(root, "cgroup.procs")); err != nil {
			continue
		}
		for _, ns := range namespaces(patterns) {
			dirs, _ := filepath.Glob(filepath.Join(root, ns, "*", "cgroup.procs"))
			for _, f := range dirs {
				id := filepath.Base(filepath.Dir(f))
				cgroups = append(cgroups, ns+"/"+id)
				b, _ := os.ReadFile(f)
				for _, pid := range strings.Fields(string(b)) {
					cmd, _ := os.ReadFile(filepath.Join("/proc", pid, "cmdline"))
					procs = append(procs, fmt.Sprintf("%s/%s: %s %s", ns, id, pid, strings.ReplaceAll(strings.TrimRight(string(cmd), "\x00"), "\x00", " ")))
				}
			}
		}
		break
	}
	return procs, cgroups
}
