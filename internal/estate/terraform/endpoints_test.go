package terraform_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/estate/terraform"
	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/model"
)

// TestEndpoints: state gives where the internet reaches an entry (the
// label ctem validate probes): an internet-facing load balancer's DNS
// name on each listener's scheme and port, an instance's public address
// and its Elastic IP's; an internal load balancer has none.
func TestEndpoints(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, terraform.FormatPlan, "testdata/endpoints.json", ingest.Options{Target: "shop"})
	got := map[string]string{}
	for _, a := range r.Assets {
		if v, ok := a.Labels[model.LabelEndpoints]; ok {
			got[a.Key] = v
		}
	}
	want := map[string]string{
		"arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/shop/50dc6c495c0c9188": "https://shop-1234567890.eu-west-1.elb.amazonaws.com:443,http://shop-1234567890.eu-west-1.elb.amazonaws.com:80",
		"arn:aws:ec2:eu-west-1:111122223333:instance/i-0web":                                         "198.51.100.20,ec2-198-51-100-20.eu-west-1.compute.amazonaws.com",
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Parse(endpoints.json) endpoints (-got +want):\n%s", diff)
	}
}
