package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// Results is everything one run measured; it is written as the raw JSON file.
type Results struct {
	Date       string      `json:"date"`
	Command    string      `json:"command"`
	DurationS  float64     `json:"duration_s"`
	Runs       int         `json:"runs"`
	Sizes      []int       `json:"sizes"`
	PsPods     int         `json:"ps_pods"`
	MemPods    int         `json:"mem_pods"`
	Machine    Machine     `json:"machine"`
	LoadBefore string      `json:"loadavg_before"`
	LoadAfter  string      `json:"loadavg_after"`
	Versions   Versions    `json:"versions"`
	Samples    []Sample    `json:"samples"`
	Memory     []MemSample `json:"memory"`
	Medians    []Median    `json:"medians"`
	Targets    []Target    `json:"targets"`
}

// Machine describes the host.
type Machine struct {
	OS        string `json:"os"`
	Kernel    string `json:"kernel"`
	CPU       string `json:"cpu"`
	Cores     int    `json:"cores"`
	MemoryMiB int64  `json:"memory_mib"`
}

// Version is one component's version.
type Version struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Versions are in the order the report prints them.
type Versions []Version

func (vs Versions) get(name string) string {
	for _, v := range vs {
		if v.Name == name {
			return v.Version
		}
	}
	return "?"
}

// Median is one entry of Medians, as JSON can hold it.
type Median struct {
	Tool  string  `json:"tool"`
	Op    string  `json:"op"`
	Pods  int     `json:"pods"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

func (m Medians) list() []Median {
	var out []Median
	for k, v := range m {
		unit := "ms"
		if strings.Contains(k.Op, "per-pod") {
			unit = "MiB"
		}
		out = append(out, Median{k.Tool, k.Op, k.Pods, v, unit})
	}
	slices.SortFunc(out, func(a, b Median) int {
		return strings.Compare(fmt.Sprintf("%s %05d %s", a.Op, a.Pods, a.Tool), fmt.Sprintf("%s %05d %s", b.Op, b.Pods, b.Tool))
	})
	return out
}

func machine() Machine {
	m := Machine{Cores: runtime.NumCPU()}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	m.OS = field("/etc/os-release", "PRETTY_NAME=", "=")
	m.OS = strings.Trim(m.OS, `"`)
	m.CPU = field("/proc/cpuinfo", "model name", ":")
	var kb int64
	fmt.Sscan(field("/proc/meminfo", "MemTotal:", ":"), &kb)
	m.MemoryMiB = kb / 1024
	return m
}

// field returns what follows sep on the first line of path that starts with prefix.
func field(path, prefix, sep string) string {
	b, _ := os.ReadFile(path)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, prefix) {
			if _, v, ok := strings.Cut(line, sep); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return ""
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// versions asks every component; one that cannot say is "?".
func (b *bench) versions() Versions {
	first := func(argv ...string) string {
		out, err := exec.Command(argv[0], argv[1:]...).Output()
		if err != nil {
			return "?"
		}
		line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		return strings.TrimSpace(line)
	}
	pkg := func(name string) string {
		if v := first("dpkg-query", "-W", "-f=${Version}", name); v != "?" && v != "" {
			return v + " (Debian package)"
		}
		return "?"
	}
	return Versions{
		{"kplay", first(b.kplayBin, "version")},
		{"kplay git describe", first("git", "describe", "--tags", "--always", "--dirty")},
		{"containerd", first("containerd", "--version")},
		{"runc", first("runc", "--version")},
		{"CNI plugins", pkg("containernetworking-plugins")},
		{"podman", first("podman", "version", "--format", "{{.Client.Version}}")},
		{"conmon", first("conmon", "--version")},
		{"catatonit", first("catatonit", "--version")},
		{"Go", runtime.Version()},
	}
}

func (r *Results) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(path, append(b, '\n'))
}

// writeFile replaces path in one step, so an interrupted run leaves the old report.
func writeFile(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".bench-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func (r *Results) writeMarkdown(path string, table []Row, jsonPath string) error {
	var b bytes.Buffer
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("# Benchmarks\n\n")
	w("Written by `make bench` (e2e/bench); do not edit by hand, run it again. Every sample is in\n")
	w("[%s](%s).\n\n", filepath.Base(jsonPath), filepath.Base(jsonPath))
	w("kplay against podman %s (`podman play kube`, `play kube --down`, `pod ps`) and against the\n", r.Versions.get("podman"))
	w("**floor**: the same containers started and removed through the containerd Go client alone.\n\n")
	w("- Date: %s; the run took %.0f s. Load average %s before, %s after: the machine was shared.\n", r.Date, r.DurationS, r.LoadBefore, r.LoadAfter)
	w("- Command: `%s`\n", r.Command)
	w("- Machine: %s, kernel %s, %d cores (%s), %d MiB memory\n", r.Machine.OS, r.Machine.Kernel, r.Machine.Cores, r.Machine.CPU, r.Machine.MemoryMiB)
	w("- Versions:")
	for i, v := range r.Versions {
		sep := ","
		if i == len(r.Versions)-1 {
			sep = ""
		}
		w(" %s `%s`%s", v.Name, v.Version, sep)
	}
	w("\n\n## Results\n\nMedians of %d rounds.\n\n", r.Runs)
	writeTable(&b, table, r.Versions.get("podman"), true)
	met := 0
	for _, t := range r.Targets {
		if t.Status == "met" {
			met++
		}
	}
	w("\n%d of issue 11's %d targets met.\n", met, len(r.Targets))
	w(howToRead, strings.Trim(strings.ReplaceAll(fmt.Sprint(r.Sizes), " ", ", "), "[]"), r.MemPods, r.PsPods)
	return writeFile(path, b.Bytes())
}

const howToRead = `
## How to read it

- Each row is the median over the rounds; each round runs every size (%s pods, one
  Deployment of that many nginx replicas; the image is the e2e registry's busybox look-alike)
  with kplay, then podman, then the floor: up, then down, so the three share the machine's
  state and noise. Times are wall-clock of the whole command, process start included.
- kplay/podman below 1 means kplay is faster; the targets are issue 11's.
- The **floor** (e2e/bench/floor) creates per pod the pause container (kplay's own pause
  executable and rootfs, copied from a running kplay infra container) and the app container
  from the same image, in the same containerd, one shim per pod through the
  ` + "`io.containerd.runc.v2.group`" + ` annotation, 4 pods at a time as kplay up. It has no CNI
  (the pause container gets a fresh network namespace from runc, loopback only; the app joins
  it and the pause container's IPC and UTS namespaces by /proc path), no log driver (no
  stdio), no hook, no /etc files, no labels or locks. kplay/floor is what kplay adds on top of
  containerd and runc.
- "time per pod at 50 / at 10" is (time at 50 / 50) / (time at 10 / 10): 1 is linear.
- Host memory is read from /proc while %d pods run: VmRSS summed over kplay's (and the
  floor's) per-pod shims and their children except the app's processes (pause, log drivers),
  and over podman's conmons and their children except the app's (catatonit). RSS counts shared
  pages once per process; Pss shares them out. "of which shim" is the shims' (podman: the
  conmons') part, the target allows 4 MiB per pod beyond it.
- ps is timed with %d pods running (kplay ps against podman pod ps).
- The machine is small and shared: compare ratios within one run, not absolute times across
  runs.

## Refreshing it

` + "`make bench`" + ` (as root) rewrites this page and benchmarks.json; it takes 6 to 7 minutes with
5 rounds on 2 cores. ` + "`make bench RUNS=1`" + ` is a quick look; ` + "`BENCH_MD= BENCH_JSON= make bench`" + `
leaves the files alone and only prints the table; ` + "`bin/bench -h`" + ` lists the driver's flags
(sizes, the pod counts for ps and memory), which e2e/env/bench.sh passes on. It holds
/run/kplay-e2e.lock for the whole run and removes every pod it made (kplay's, podman's, the
floor's) when it ends, also on ^C; images stay.
`
