package probe

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestGRPCProbe(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(lis)
	defer srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	if err := GRPC(ctx, lis.Addr().String(), nil); err != nil {
		t.Errorf("probe of a SERVING server: %v", err)
	}
	svc := "db"
	hs.SetServingStatus(svc, healthpb.HealthCheckResponse_NOT_SERVING)
	if err := GRPC(ctx, lis.Addr().String(), &svc); err == nil || !strings.Contains(err.Error(), "NOT_SERVING") {
		t.Errorf("probe of a NOT_SERVING service = %v, want an error naming NOT_SERVING", err)
	}
}

func TestProbePortByName(t *testing.T) {
	ports := []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}
	if p, err := Port(intstr.FromString("http"), ports); err != nil || p != 8080 {
		t.Errorf("named port http = %d, %v; want 8080", p, err)
	}
	if p, err := Port(intstr.FromInt32(9090), ports); err != nil || p != 9090 {
		t.Errorf("port 9090 = %d, %v", p, err)
	}
	if _, err := Port(intstr.FromString("grpc"), ports); err == nil {
		t.Error("an unknown port name was accepted")
	}
}

func TestHTTPProbeAsTheKubelet(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "app.example" || r.Header.Get("X-Token") != "t" || r.UserAgent() != "kube-probe/1.37" {
			http.Error(w, fmt.Sprintf("host %q token %q agent %q", r.Host, r.Header.Get("X-Token"), r.UserAgent()), http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://other.invalid/", http.StatusFound)
	})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	headers := []corev1.HTTPHeader{{Name: "Host", Value: "app.example"}, {Name: "x-token", Value: "t"}}
	for _, srv := range []*httptest.Server{httptest.NewServer(mux), httptest.NewTLSServer(mux)} {
		defer srv.Close()
		// The TLS server's certificate is self-signed: the kubelet does not verify it.
		if err := HTTP(ctx, srv.URL+"/", headers); err != nil {
			t.Errorf("probe with a Host header of %s: %v", srv.URL, err)
		}
		if err := HTTP(ctx, srv.URL+"/", nil); err == nil || !strings.Contains(err.Error(), "HTTP 404") {
			t.Errorf("probe without the headers = %v, want HTTP 404", err)
		}
		if err := HTTP(ctx, srv.URL+"/away", nil); err != nil {
			t.Errorf("a redirect to another host is the answer (success), got %v", err)
		}
		if err := HTTP(ctx, srv.URL+"/fail", nil); err == nil || !strings.Contains(err.Error(), "HTTP 503") {
			t.Errorf("probe of a 503 = %v, want HTTP 503", err)
		}
	}
}
