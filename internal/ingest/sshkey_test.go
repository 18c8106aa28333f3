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

func TestServiceAccountOfToken(t *testing.T) {
	t.Parallel()
	const (
		deployer = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImV4YW1wbGUifQ.eyJpc3MiOiJrdWJlcm5ldGVzL3NlcnZpY2VhY2NvdW50Iiwia3ViZXJuZXRlcy5pby9zZXJ2aWNlYWNjb3VudC9uYW1lc3BhY2UiOiJjaSIsImt1YmVybmV0ZXMuaW8vc2VydmljZWFjY291bnQvc2VydmljZS1hY2NvdW50Lm5hbWUiOiJkZXBsb3llciIsInN1YiI6InN5c3RlbTpzZXJ2aWNlYWNjb3VudDpjaTpkZXBsb3llciJ9.c2lnbmF0dXJlLW5vdC1hLXJlYWwtb25l"
		// A user's token: no service account.
		user = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln"
	)
	tests := []struct{ in, want string }{
		{deployer, "ci/deployer"},
		{"users:\n- name: ci\n  user:\n    token: " + deployer + "\n", "ci/deployer"},
		{user + " " + deployer, "ci/deployer"},
		{user, ""},
		{"eyJ", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := ServiceAccountOfToken(tt.in); got != tt.want {
			t.Errorf("ServiceAccountOfToken(%.40q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzServiceAccountOfToken(f *testing.F) {
	f.Add("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6YTpiIn0.c2ln")
	f.Fuzz(func(t *testing.T, s string) { ServiceAccountOfToken(s) })
}
