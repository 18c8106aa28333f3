package ingest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSSHFingerprint checks the fingerprints of private keys of each form
// and of their public halves against those ssh-keygen -lf printed when
// the keys were generated (testdata/sshkeys/*.fp).
func TestSSHFingerprint(t *testing.T) {
	t.Parallel()
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("testdata", "sshkeys", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, k := range []string{"ed", "enc", "rsa", "ec"} {
		want := strings.TrimSpace(read(k + ".fp"))
		for _, f := range []string{k + ".key", k + ".pub"} {
			if got := SSHFingerprint(read(f)); got != want {
				t.Errorf("SSHFingerprint(%s) = %q, want %q", f, got, want)
			}
		}
	}
	for _, bad := range []string{"", "-----BEGIN RSA PRIVATE KEY-----", "ssh-ed25519 !!!", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAACmFl\n-----END OPENSSH PRIVATE KEY-----\n"} {
		if got := SSHFingerprint(bad); got != "" {
			t.Errorf("SSHFingerprint(%q) = %q, want none", bad, got)
		}
	}
}

func FuzzSSHFingerprint(f *testing.F) {
	for _, k := range []string{"ed.key", "enc.key", "rsa.key", "ec.key", "ed.pub"} {
		b, err := os.ReadFile(filepath.Join("testdata", "sshkeys", k))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, s string) { SSHFingerprint(s) })
}
