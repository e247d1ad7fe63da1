// Package probe runs the kubelet's network probes (httpGet, tcpSocket, grpc) the
// way the kubelet does. Exec probes need a container and stay with the runtime.
package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Network runs an httpGet, tcpSocket or grpc probe against the pod at podIP, whose
// container declares ports.
func Network(ctx context.Context, h corev1.ProbeHandler, podIP string, ports []corev1.ContainerPort) error {
	switch {
	case h.HTTPGet != nil:
		g := h.HTTPGet
		host := g.Host
		if host == "" {
			host = podIP
		}
		port, err := Port(g.Port, ports)
		if err != nil {
			return err
		}
		scheme := strings.ToLower(string(g.Scheme))
		if scheme == "" {
			scheme = "http"
		}
		url := fmt.Sprintf("%s://%s%s", scheme, net.JoinHostPort(host, strconv.Itoa(port)), g.Path)
		return HTTP(ctx, url, g.HTTPHeaders)
	case h.TCPSocket != nil:
		host := h.TCPSocket.Host
		if host == "" {
			host = podIP
		}
		port, err := Port(h.TCPSocket.Port, ports)
		if err != nil {
			return err
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return err
		}
		return conn.Close()
	case h.GRPC != nil:
		return GRPC(ctx, net.JoinHostPort(podIP, strconv.Itoa(int(h.GRPC.Port))), h.GRPC.Service)
	}
	return errors.New("probe has no network handler")
}

// probeClient probes as the kubelet's: certificates are not verified (a probe checks
// that the server answers, not who it is), no connection is kept, and a redirect to
// another host is not followed but counts as the answer.
var probeClient = &http.Client{
	Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
		DisableKeepAlives: true,
		Proxy:             nil,
	},
	CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		if req.URL.Hostname() != via[0].URL.Hostname() {
			return http.ErrUseLastResponse
		}
		return nil
	},
}

// HTTP GETs url with the probe's headers. A Host header sets the request's host,
// and the kubelet's User-Agent and Accept are sent unless the probe sets its own.
func HTTP(ctx context.Context, url string, headers []corev1.HTTPHeader) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", probeUserAgent)
	req.Header.Set("Accept", "*/*")
	set := map[string]bool{}
	for _, h := range headers {
		name := http.CanonicalHeaderKey(h.Name)
		if name == "Host" {
			req.Host = h.Value
			continue
		}
		if !set[name] {
			req.Header.Del(name) // the probe's own value replaces the default
			set[name] = true
		}
		req.Header.Add(name, h.Value)
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	return nil
}

// probeUserAgent is what the kubelet sends, with the Kubernetes version kplay follows.
const probeUserAgent = "kube-probe/1.37"

// GRPC asks the gRPC health service, as the kubelet does: SERVING passes.
func GRPC(ctx context.Context, addr string, service *string) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	req := &healthpb.HealthCheckRequest{}
	if service != nil {
		req.Service = *service
	}
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, req)
	if err != nil {
		return fmt.Errorf("gRPC health check of %s: %w", addr, err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("gRPC health check of %s: %s", addr, resp.GetStatus())
	}
	return nil
}

// Port resolves a probe's port, by number or by the name of a container port.
func Port(p intstr.IntOrString, ports []corev1.ContainerPort) (int, error) {
	if p.Type == intstr.Int {
		return p.IntValue(), nil
	}
	for _, cp := range ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("the container has no port named %q", p.StrVal)
}
