package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/kplay-dev/kplay/pkg/plan"
	"github.com/kplay-dev/kplay/pkg/podstate"
	"github.com/kplay-dev/kplay/pkg/podstatus"
	"github.com/kplay-dev/kplay/pkg/runtime"
)

func newPsCommand(g *globalOptions) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "ps [-o wide|json|yaml]",
		Short: "List pods, like kubectl get pods",
		Args:  argsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch output {
			case "", "wide", "json", "yaml":
			default:
				return usageError{fmt.Errorf("unknown output format %q: use wide, json or yaml", output)}
			}
			return withRuntime(cmd, g, nil, func(ctx context.Context, rt *runtime.Runtime) error {
				pods, err := rt.List(ctx)
				if err != nil {
					return err
				}
				if output == "json" || output == "yaml" {
					return printObject(cmd.OutOrStdout(), output, podList(pods))
				}
				return printPods(cmd.OutOrStdout(), pods, output == "wide", time.Now())
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: wide, json or yaml")
	return cmd
}

// podList is the pods as `kubectl get pods -o json` prints them: no pods is "items": [].
func podList(pods []corev1.Pod) *corev1.PodList {
	list := &corev1.PodList{Items: append([]corev1.Pod{}, pods...)}
	list.APIVersion, list.Kind = "v1", "List"
	return list
}

func printPods(out io.Writer, pods []corev1.Pod, wide bool, now time.Time) error {
	w := tabwriter.NewWriter(out, 3, 0, 3, ' ', 0)
	header := "NAMESPACE\tNAME\tREADY\tSTATUS\tRESTARTS\tAGE\tIP\tPORTS"
	if wide {
		header += "\tOWNER\tSOURCE"
	}
	fmt.Fprintln(w, header)
	for _, p := range pods {
		ready, restarts := 0, int32(0)
		for _, cs := range p.Status.ContainerStatuses {
			if cs.Ready {
				ready++
			}
			restarts += cs.RestartCount
		}
		ip := p.Status.PodIP
		if ip == "" {
			ip = "<none>"
		}
		line := fmt.Sprintf("%s\t%s\t%d/%d\t%s\t%d\t%s\t%s\t%s", p.Namespace, p.Name, ready, len(p.Spec.Containers),
			podstatus.StatusColumn(&p), restarts, duration.HumanDuration(now.Sub(p.CreationTimestamp.Time)), ip, portsColumn(podstate.PublishedPorts(p)))
		if wide {
			line += fmt.Sprintf("\t%s\t%s", podstate.Labels(p.Annotations).Owner(), podstate.Labels(p.Annotations).Source())
		}
		fmt.Fprintln(w, line)
	}
	return w.Flush()
}

// portsColumn shows published ports like docker ps: 127.0.0.1:8080->80/tcp.
func portsColumn(ports []plan.HostPort) string {
	var out []string
	for _, p := range ports {
		host := strconv.Itoa(int(p.HostPort))
		if p.HostIP != "" {
			host = p.HostIP + ":" + host
		}
		out = append(out, fmt.Sprintf("%s->%d/%s", host, p.ContainerPort, strings.ToLower(string(p.Protocol))))
	}
	return strings.Join(out, ",")
}
