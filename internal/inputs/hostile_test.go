package inputs_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/inputs"
)

// hostileCase is one hostile input: a generator that writes its
// decompressed content (gigabytes, produced as the parser reads, never
// held or written to disk), the format forced on it ("" to detect it),
// extra environment for the child, and the message the input error must
// hold.
type hostileCase struct {
	name   string
	format string
	env    []string
	gen    func(w io.Writer) error
	want   string
}

// repeat writes s n times, in chunks.
func repeat(w io.Writer, s string, n int64) error {
	chunk := []byte(strings.Repeat(s, max(1, (64<<10)/len(s))))
	per := int64(len(chunk) / len(s))
	for n > 0 {
		k := min(n, per)
		if _, err := w.Write(chunk[:k*int64(len(s))]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

func write(w io.Writer, parts ...string) error {
	for _, p := range parts {
		if _, err := io.WriteString(w, p); err != nil {
			return err
		}
	}
	return nil
}

const gb = int64(1) << 30

const trivyHead = `{"SchemaVersion":2,"ArtifactName":"alpine:3.10","ArtifactType":"container_image","Results":[{"Target":"alpine:3.10 (alpine 3.10.2)","Class":"os-pkgs","Type":"alpine","Vulnerabilities":[{"VulnerabilityID":"CVE-2019-1549","PkgName":"libcrypto1.1","InstalledVersion":"1.1.1c-r0","FixedVersion":"1.1.1d-r0","Severity":"MEDIUM",`

var hostileCases = []hostileCase{{
	// Issue 14: a 14 MB gzip holding one 3 GB JSON string, a Trivy Title.
	name: "trivy-title-3GB",
	gen: func(w io.Writer) error {
		if err := write(w, trivyHead, `"Title":"`); err != nil {
			return err
		}
		if err := repeat(w, "A", 3*gb); err != nil {
			return err
		}
		return write(w, `"}]}]}`)
	},
	want: "a JSON string larger than {token}",
}, {
	// One finding whose list of references holds 3 GB of short strings:
	// no string is long, the item is.
	name: "trivy-references-3GB",
	gen: func(w io.Writer) error {
		if err := write(w, trivyHead, `"References":[""`); err != nil {
			return err
		}
		if err := repeat(w, `,"https://example.com/"`, 3*gb/22); err != nil {
			return err
		}
		return write(w, `]}]}]}`)
	},
	want: "one item larger than {item}",
}, {
	name: "json-depth",
	gen: func(w io.Writer) error {
		if err := write(w, `{"SchemaVersion":2,"ArtifactName":"x","ArtifactType":"container_image","Unknown":`); err != nil {
			return err
		}
		return repeat(w, "[", 3*gb)
	},
	format: "trivy",
	want:   "nested deeper than 512 levels",
}, {
	// Issue 14: one 3 GB XML attribute in an Nmap header.
	name:   "nmap-attribute-3GB",
	format: "nmap",
	gen: func(w io.Writer) error {
		if err := write(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<nmaprun scanner="nmap" args="nmap -sV `); err != nil {
			return err
		}
		if err := repeat(w, "A", 3*gb); err != nil {
			return err
		}
		return write(w, `" start="1700000000" version="7.94"></nmaprun>`)
	},
	want: "an XML token (text, tag with its attributes, or comment) larger than {token}",
}, {
	// Issue 14: a 10 GB gzip bomb (zeros) forced through an XML format.
	name:   "nmap-zero-bomb-10GB",
	format: "nmap",
	gen:    func(w io.Writer) error { return repeat(w, "\x00", 10*gb) },
	want:   "an XML token (text, tag with its attributes, or comment) larger than {token}",
}, {
	// 10 GB of valid elements: nothing is large but the whole, which the
	// decompressed size limit (lowered here, so that the test does not
	// decompress 8 GiB) stops.
	name:   "nmap-element-bomb-10GB",
	format: "nmap",
	env:    []string{"CTEM_MAX_INPUT={input}"},
	gen: func(w io.Writer) error {
		if err := write(w, `<nmaprun scanner="nmap" args="nmap 10.0.0.0/24">`); err != nil {
			return err
		}
		el := "<x>" + strings.Repeat("a", 1000) + "</x>"
		return repeat(w, el, 10*gb/int64(len(el)))
	},
	want: "input once decompressed larger than {input}",
}, {
	// Terraform plans are JSON read with the default limits.
	name:   "terraform-plan-3GB",
	format: "terraform-json",
	gen: func(w io.Writer) error {
		if err := write(w, `{"format_version":"1.2","terraform_version":"1.9.0","planned_values":{"root_module":{"resources":[{"address":"`); err != nil {
			return err
		}
		return repeat(w, "a", 3*gb)
	},
	want: "a JSON string larger than {token}",
}, {
	// A YAML inventory is decoded whole, within MaxItem.
	name:   "inventory-yaml-3GB",
	format: "inventory",
	gen: func(w io.Writer) error {
		if err := write(w, "inventory: 1\nassets:\n  - key: host:a\n    kind: host\n    name: \""); err != nil {
			return err
		}
		return repeat(w, "a", 3*gb)
	},
	want: "a YAML inventory larger than {item}",
}, {
	// Kubernetes YAML is decoded one document at a time, each within
	// MaxItem.
	name:   "k8s-yaml-3GB",
	format: "kubernetes",
	gen: func(w io.Writer) error {
		if err := write(w, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: small\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: large\ndata:\n  a: \""); err != nil {
			return err
		}
		return repeat(w, "a", 3*gb)
	},
	want: "input too large: a YAML document larger than {item}",
}, {
	name:   "nmap-depth",
	format: "nmap",
	gen: func(w io.Writer) error {
		if err := write(w, `<nmaprun scanner="nmap">`); err != nil {
			return err
		}
		return repeat(w, `<host>`, 3*gb/6)
	},
	want: "nested deeper than 512 elements",
}}

// childEnv names the hostile case a child process runs.
const childEnv = "CTEM_TEST_HOSTILE_CASE"

// rssCeiling is the peak resident memory a hostile input may cost; the
// child's own watchdog stops it at twice that, to spare the machine.
const rssCeiling = 512 << 20

// childReport is what the child prints on its last line.
type childReport struct {
	Err        string `json:"err"`
	InputError bool   `json:"input_error"`
	TooLarge   bool   `json:"too_large"`
	Gzipped    int64  `json:"gzipped"`
	HWMKiB     int64  `json:"hwm_kib"`
}

// TestHostileInputs runs each hostile input in a child process (this test
// binary, re-executed) under GOMEMLIMIT, and checks that it ends with
// the input error of its limit, not a kill, within rssCeiling of peak
// resident memory measured by the kernel (the child's rusage).
//
// The limits are the defaults, but for the decompressed size (64 MiB,
// so that the test does not decompress 8 GiB). Under the race detector,
// which reads ten times slower, every limit is lowered (token 1 MiB, item
// 4 MiB, input 16 MiB), so that the whole run stays within seconds.
func TestHostileInputs(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		return
	}
	words := strings.NewReplacer("{token}", "16 MiB", "{item}", "64 MiB", "{input}", "64 MiB")
	var lowered []string
	if raceEnabled {
		words = strings.NewReplacer("{token}", "1 MiB", "{item}", "4 MiB", "{input}", "16 MiB")
		lowered = []string{"CTEM_MAX_TOKEN=1M", "CTEM_MAX_ITEM=4M", "CTEM_MAX_INPUT=16M"}
	}
	// Sequential on purpose: each child may take a few hundred MB.
	for _, c := range hostileCases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHostileChild$", "-test.v")
			cmd.Env = append(os.Environ(), childEnv+"="+c.name, "GOMEMLIMIT=256MiB", "GOGC=100")
			cmd.Env = append(cmd.Env, lowered...)
			for _, e := range c.env {
				cmd.Env = append(cmd.Env, strings.ReplaceAll(e, "{input}", strings.ReplaceAll(words.Replace("{input}"), " MiB", "M")))
			}
			want := words.Replace(c.want)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			start := time.Now()
			err := cmd.Run()
			elapsed := time.Since(start)
			if err != nil {
				t.Fatalf("child for %s: %v (killed or failed, want an input error)\n%s", c.name, err, out.String())
			}
			rep := lastReport(t, out.String())
			maxRSS := int64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) << 10
			t.Logf("%s: %s after %s, %d KiB of gzip read; peak RSS %d MiB (rusage), VmHWM %d MiB",
				c.name, rep.Err, elapsed.Round(time.Millisecond), rep.Gzipped>>10, maxRSS>>20, rep.HWMKiB>>10)
			if !rep.InputError || !rep.TooLarge || !strings.Contains(rep.Err, want) || !strings.HasPrefix(rep.Err, c.name+".gz") {
				t.Errorf("parse(%s) = %q (input error %v, too large %v), want an input error naming %s.gz with %q", c.name, rep.Err, rep.InputError, rep.TooLarge, c.name, want)
			}
			if maxRSS > rssCeiling {
				t.Errorf("parse(%s) peaked at %d MiB resident, want under %d MiB", c.name, maxRSS>>20, rssCeiling>>20)
			}
		})
	}
}

func lastReport(t *testing.T, out string) childReport {
	t.Helper()
	var rep childReport
	for l := range strings.SplitSeq(out, "\n") {
		if after, ok := strings.CutPrefix(l, "HOSTILE "); ok {
			if err := json.Unmarshal([]byte(after), &rep); err != nil {
				t.Fatal(err)
			}
			return rep
		}
	}
	t.Fatalf("the child printed no report:\n%s", out)
	return rep
}

// TestHostileChild is the child of TestHostileInputs: it streams one
// hostile input through gzip into ingest, as `ctem ingest` reads a file,
// and prints what happened. It does nothing in an ordinary test run.
func TestHostileChild(t *testing.T) {
	name := os.Getenv(childEnv)
	if name == "" {
		return
	}
	var c *hostileCase
	for i := range hostileCases {
		if hostileCases[i].name == name {
			c = &hostileCases[i]
		}
	}
	if c == nil {
		t.Fatalf("no hostile case %q", name)
	}
	go watchdog()

	pr, pw := io.Pipe()
	counted := &countWriter{w: pw}
	generated := make(chan struct{})
	go func() {
		defer close(generated)
		zw, _ := gzip.NewWriterLevel(counted, gzip.BestCompression)
		err := c.gen(zw)
		if err == nil {
			err = zw.Close()
		}
		pw.CloseWithError(err)
	}()
	src, err := ingest.NewSource(name+".gz", pr)
	if err != nil {
		t.Fatal(err)
	}
	reg := inputs.All()
	var f ingest.Format
	if c.format != "" {
		f, err = reg.Lookup(c.format)
	} else {
		f, err = reg.Detect(src.Sniff())
	}
	if err != nil {
		t.Fatal(err)
	}
	err = f.Parse(t.Context(), &ingest.Input{Name: src.Name, R: src.Reader(), Options: ingest.Options{Target: "hostile", SecretKey: ingesttest.TestKey}}, &ingesttest.Recorder{})
	pr.CloseWithError(errors.New("parser done"))
	<-generated
	_, isInput := errors.AsType[*ingest.InputError](err)
	rep := childReport{Err: fmt.Sprint(err), InputError: isInput, TooLarge: errors.Is(err, ingest.ErrTooLarge), Gzipped: counted.n, HWMKiB: statusKiB("VmHWM")}
	b, _ := json.Marshal(rep)
	fmt.Printf("HOSTILE %s\n", b)
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// watchdog ends the child when it holds more than twice rssCeiling, so
// that a broken limit fails the test instead of exhausting the machine.
func watchdog() {
	for range time.Tick(20 * time.Millisecond) {
		if rss := statusKiB("VmRSS") << 10; rss > 2*rssCeiling {
			fmt.Printf("HOSTILE {\"err\":\"watchdog: %d MiB resident\",\"hwm_kib\":%d}\n", rss>>20, rss>>10)
			os.Exit(0)
		}
	}
}

// statusKiB reads a field of /proc/self/status, in KiB (0 when absent).
func statusKiB(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}
