package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestDemoServe runs ctem demo --serve, signs in with the password it
// prints, reads the overview, and stops it.
func TestDemoServe(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"demo", "--serve", "--addr", "127.0.0.1:0"}, strings.NewReader(""), &out, &errb)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("ctem demo --serve = %d after cancel, want 0\n%s", code, errb.String())
			}
		case <-time.After(30 * time.Second):
			t.Errorf("ctem demo --serve did not stop")
		}
	})
	pwRE := regexp.MustCompile(`sign in as demo, password (\S+)`)
	addrRE := regexp.MustCompile(`msg=serving addr=(127\.0\.0\.1:\d+)`)
	var pw, addr string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline) && addr == ""; time.Sleep(50 * time.Millisecond) {
		s := errb.String()
		if m := pwRE.FindStringSubmatch(s); m != nil {
			pw = m[1]
		}
		if m := addrRE.FindStringSubmatch(s); m != nil {
			addr = m[1]
		}
	}
	if pw == "" || addr == "" {
		t.Fatalf("ctem demo --serve printed no password or address:\n%s", errb.String())
	}
	if !strings.Contains(out.String(), "The riskiest attack paths:") {
		t.Errorf("ctem demo --serve's summary lacks the riskiest paths:\n%s", out.String())
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	base := "http://" + addr
	res, err := c.Get(base + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	_, rest, _ := strings.Cut(string(b), `name="csrf" value="`)
	tok, _, _ := strings.Cut(rest, `"`)
	res, err = c.PostForm(base+"/signin", url.Values{"csrf": {tok}, "name": {"demo"}, "password": {pw}, "next": {"/paths"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Request.URL.Path != "/paths" || !strings.Contains(string(b), "data-path=") {
		t.Errorf("sign in to the demo = %d at %s, want the attack paths listed\n%.500s", res.StatusCode, res.Request.URL.Path, b)
	}
}
