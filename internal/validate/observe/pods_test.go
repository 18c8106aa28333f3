package observe_test

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/validate/observe"
)

var podFiles = []string{"testdata/k9s-po.json", "testdata/kubectl-neat-list1-raw.json", "testdata/kubehound-pods.json"}

// TestParsePods: the running containers of real kubectl output, as a
// generic decode of the same files counts them.
func TestParsePods(t *testing.T) {
	t.Parallel()
	for _, f := range podFiles {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := observe.ParsePods(f, bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("ParsePods(%s): %v", f, err)
		}
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		items := []any{doc}
		if its, ok := doc["items"].([]any); ok {
			items = its
		}
		var want []string
		for _, it := range items {
			p := it.(map[string]any)
			st, _ := p["status"].(map[string]any)
			cs, _ := st["containerStatuses"].([]any)
			for _, c := range cs {
				c := c.(map[string]any)
				if state, _ := c["state"].(map[string]any); state["running"] != nil {
					want = append(want, c["image"].(string))
				}
			}
		}
		var images []string
		for _, r := range got {
			images = append(images, r.Image)
		}
		if !slices.Equal(images, want) {
			t.Errorf("ParsePods(%s) images = %q, want %q", f, images, want)
		}
	}
}

// TestParsePodsErrors: bad input names the input and where.
func TestParsePodsErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{`{"kind": "Pod", "metadata": {`, "pods.json: offset"},
		{`{"kind": "Deployment"}`, `kind "Deployment"`},
		{`{"kind": "List", "items": [{"kind": "Pod", "status": 3}]}`, "items[0]"},
		{`{"kind": "Pod"} {"kind": "Pod"}`, "more than one JSON document"},
	} {
		_, err := observe.ParsePods("pods.json", strings.NewReader(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "pods.json") {
			t.Errorf("ParsePods(%q) = %v, want an error naming pods.json and %q", c.in, err, c.want)
		}
	}
}

// TestImageKeys: a container's keys are its reference's and the digest's.
func TestImageKeys(t *testing.T) {
	t.Parallel()
	r := observe.Running{Image: "nginx:alpine", ImageID: "docker-pullable://nginx@sha256:482ead44b2203fa32b3390abdaf97cbdc8ad15c07fb03a3e68d7c35a19ad7595"}
	want := []string{model.ImageKey("nginx:alpine"), model.ImageKey("nginx@sha256:482ead44b2203fa32b3390abdaf97cbdc8ad15c07fb03a3e68d7c35a19ad7595")}
	if got := r.ImageKeys(); !slices.Equal(got, want) {
		t.Errorf("ImageKeys() = %q, want %q", got, want)
	}
}

func FuzzParsePods(f *testing.F) {
	for _, p := range podFiles {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := observe.ParsePods("fuzz.json", bytes.NewReader(b))
		if err != nil && rs != nil {
			t.Errorf("ParsePods = %d containers and error %v", len(rs), err)
		}
		for _, r := range rs {
			_ = r.ImageKeys()
		}
	})
}
