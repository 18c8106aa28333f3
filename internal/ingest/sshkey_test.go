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

func TestDatabaseHost(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"postgres://app:s3cret@orders.abc123.eu-west-1.rds.amazonaws.com:5432/orders", "orders.abc123.eu-west-1.rds.amazonaws.com"},
		{`DATABASE_URL="mysql://root:pw@DB.internal/shop"`, "db.internal"},
		{"jdbc:postgresql://u:p@10.0.0.5:5432/x", "10.0.0.5"},
		{"mongodb+srv://u:p@cluster0.mongodb.net/", "cluster0.mongodb.net"},
		{"postgres://app@orders.example.com/orders", ""}, // no password
		{"https://admin:admin@the-internet.herokuapp.com/basic_auth", ""},
		{"postgres://", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := DatabaseHost(tt.in); got != tt.want {
			t.Errorf("DatabaseHost(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzDatabaseHost(f *testing.F) {
	f.Add("postgres://app:s3cret@orders.example.com:5432/orders")
	f.Add("jdbc:mysql://u:p@[::1]:3306/x")
	f.Fuzz(func(t *testing.T, s string) { DatabaseHost(s) })
}
