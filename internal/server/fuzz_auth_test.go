package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzVerifyPassword feeds arbitrary stored hashes and passwords: a
// hash not in ctem's argon2id PHC form, or with parameters beyond the
// bounds, matches nothing, and nothing panics or allocates without bound.
func FuzzVerifyPassword(f *testing.F) {
	h, err := HashPassword("s3cret-pass")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{h, "!", "", "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=9999999,t=99,p=99$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5", "$argon2i$v=19$m=8,t=1,p=1$AAAA$AAAA"} {
		f.Add(s, "s3cret-pass")
	}
	f.Fuzz(func(t *testing.T, hash, pw string) {
		if VerifyPassword(hash, pw) && hash != h {
			// Only a real argon2id hash of pw may match; check it is one.
			if !strings.HasPrefix(hash, "$argon2id$v=19$") {
				t.Errorf("VerifyPassword(%q, %q) = true for a hash not in argon2id form", hash, pw)
			}
		}
	})
}

// FuzzOIDCConfig feeds arbitrary OIDC configuration files: each loads
// or is an error naming the file, and nothing panics.
func FuzzOIDCConfig(f *testing.F) {
	for _, s := range []string{
		"issuer: https://idp.example\nclient_id: ctem\nredirect_url: https://ctem.example/api/v1/oidc/callback\ngroups:\n  admins: {role: admin}\n  web: {role: analyst, team: team-web}\n",
		"issuer: x\n", "groups: [1, 2]", "unknown: 1", "groups:\n  a: {role: root}\n", "{", "",
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data string) {
		p := filepath.Join(dir, "oidc.yaml")
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := LoadOIDCConfig(p, func(string) string { return "secret" })
		if err != nil {
			if !strings.Contains(err.Error(), p) {
				t.Errorf("LoadOIDCConfig(%q) = %v, want an error naming the file", data, err)
			}
			return
		}
		if c.check() != nil || c.ClientSecret != "secret" {
			t.Errorf("LoadOIDCConfig(%q) = %+v, want a checked config with the secret from the environment", data, c)
		}
		_, _ = c.grantOf([]string{"admins", "web"})
	})
}
