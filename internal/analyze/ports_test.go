package analyze_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/analyze"
	"github.com/ctem-dev/ctem/internal/estate"
	"github.com/ctem-dev/ctem/internal/estate/terraform"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/intel/effect"
	"github.com/ctem-dev/ctem/internal/model"
)

// lbEstate is an internet-facing load balancer whose listener on 443
// forwards to a target group on port tgPort, whose target is an instance
// at 10.0.0.5 with a role that reads the crown bucket.
func lbEstate(tgPort string) string {
	return `
resource "aws_s3_bucket" "crown" {
  bucket = "acme-crown-jewels"
}
resource "aws_iam_role" "web" {
  name               = "web"
  assume_role_policy = jsonencode({ Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "ec2.amazonaws.com" } }] })
}
resource "aws_iam_role_policy_attachment" "web" {
  role       = aws_iam_role.web.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
}
resource "aws_iam_instance_profile" "web" {
  name = "web"
  role = aws_iam_role.web.name
}
resource "aws_instance" "web" {
  ami                  = "ami-12345678"
  private_ip           = "10.0.0.5"
  iam_instance_profile = aws_iam_instance_profile.web.name
}
resource "aws_lb" "front" {
  name     = "front"
  internal = false
}
resource "aws_lb_target_group" "web" {
  name     = "web"
  port     = ` + tgPort + `
  protocol = "HTTP"
}
resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.front.arn
  port              = 443
  protocol          = "HTTPS"
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.web.arn
  }
}
resource "aws_lb_target_group_attachment" "web" {
  target_group_arn = aws_lb_target_group.web.arn
  target_id        = aws_instance.web.id
}
`
}

// TestPortsThroughLoadBalancer checks that a remote code execution that a
// scanner found on port 3000 of the instance's address is reached when
// the load balancer forwards to port 3000, and not when it forwards to
// port 5000, another service of the same host.
func TestPortsThroughLoadBalancer(t *testing.T) {
	t.Parallel()
	run := func(tgPort string) []string {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(lbEstate(tgPort)), 0o644); err != nil {
			t.Fatal(err)
		}
		r := &ingesttest.Recorder{}
		if err := terraform.ParseDir(context.Background(), dir, ingest.Options{Target: "acme"}, r); err != nil {
			t.Fatalf("ParseDir() error = %v", err)
		}
		// What Nmap writes for the host and its two open ports.
		assets := append(r.Assets,
			model.Asset{Key: "host:10.0.0.5", Kind: model.KindHost, Source: "nmap"},
			model.Asset{Key: "host:10.0.0.5:3000", Kind: model.KindHost, Labels: map[string]string{"protocol": "tcp"}, Source: "nmap"},
			model.Asset{Key: "host:10.0.0.5:5000", Kind: model.KindHost, Labels: map[string]string{"protocol": "tcp"}, Source: "nmap"})
		rels := append(r.Relations,
			model.Relation{From: "host:10.0.0.5", To: "host:10.0.0.5:3000", Type: model.RelExposes, Source: "nmap"},
			model.Relation{From: "host:10.0.0.5", To: "host:10.0.0.5:5000", Type: model.RelExposes, Source: "nmap"})
		es := estate.Build(assets, rels, nil)
		in := &graph.Input{Assets: es.Sorted(), Relations: es.Relations,
			Entries: []graph.Entry{{Kind: graph.EntryInternet}},
			Jewels:  []graph.Jewel{{Asset: crown, Value: 10}},
			Weaknesses: []graph.Weakness{{Exposure: model.Exposure{ID: "rce", Asset: es.Canonical("host:10.0.0.5:3000"), Kind: model.FindingVulnerability, RuleID: "CVE-0000-0002"},
				Effect: effect.Result{Effect: effect.Exec, Confidence: effect.High}}}}
		res, err := graph.Analyze(in, graph.Options{K: 5})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range res.Paths {
			out = append(out, analyze.Summary(p))
		}
		return out
	}
	got := run("3000")
	want := "network:host:10.0.0.5:3000 -[remote-code-execution]-> exec:tf:aws_instance.web -[workload-identity]-> identity:tf:aws_iam_role.web"
	if len(got) == 0 || !strings.Contains(got[0], want) {
		t.Errorf("paths through a target group on port 3000 = %v, want one through %s", got, want)
	}
	if got := run("5000"); len(got) > 0 {
		t.Errorf("paths through a target group on port 5000 = %v, want none", got)
	}
}
