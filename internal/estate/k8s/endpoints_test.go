package k8s_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/estate/k8s"
	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/model"
)

// TestEndpoints: the Kubernetes documentation's examples say where their
// entries answer and how the Ingresses route: the LoadBalancer service
// at its status address on its TCP port, the TLS Ingress at its TLS host
// over https and its status host name, the fan-out Ingress at its rule
// host over http, each path to its service.
func TestEndpoints(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/endpoints.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := ingesttest.ParseBytes(k8s.Format, "endpoints.yaml", data, ingest.Options{Target: "c"})
	if err != nil {
		t.Fatal(err)
	}
	eps, routes := map[string]string{}, map[string][]model.HTTPRoute{}
	for _, a := range r.Assets {
		if v, ok := a.Labels[model.LabelEndpoints]; ok {
			eps[a.Key] = v
		}
		if v, ok := a.Labels[model.LabelHTTPRoutes]; ok {
			var rs []model.HTTPRoute
			if err := json.Unmarshal([]byte(v), &rs); err != nil {
				t.Fatalf("%s: %s = %q: %v", a.Key, model.LabelHTTPRoutes, v, err)
			}
			routes[a.Key] = rs
		}
	}
	wantEps := map[string]string{
		"k8s:c/default/Service/my-service":            "tcp://192.0.2.127:80",
		"k8s:c/default/Ingress/tls-example-ingress":   "https://https-example.foo.com,http://a1b2c3.eu-west-1.elb.amazonaws.com,https://a1b2c3.eu-west-1.elb.amazonaws.com",
		"k8s:c/default/Ingress/simple-fanout-example": "http://foo.bar.com",
	}
	if diff := cmp.Diff(eps, wantEps); diff != "" {
		t.Errorf("Parse(endpoints.yaml) endpoints (-got +want):\n%s", diff)
	}
	wantRoutes := map[string][]model.HTTPRoute{
		"k8s:c/default/Ingress/tls-example-ingress": {{Host: "https-example.foo.com", Path: "/", PathType: "Prefix", Service: "k8s:c/default/Service/service1"}},
		"k8s:c/default/Ingress/simple-fanout-example": {
			{Host: "foo.bar.com", Path: "/foo", PathType: "Prefix", Service: "k8s:c/default/Service/service1"},
			{Host: "foo.bar.com", Path: "/bar", PathType: "Prefix", Service: "k8s:c/default/Service/service2"},
		},
	}
	if diff := cmp.Diff(routes, wantRoutes); diff != "" {
		t.Errorf("Parse(endpoints.yaml) routes (-got +want):\n%s", diff)
	}
}
