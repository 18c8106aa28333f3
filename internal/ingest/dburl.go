package ingest

import (
	"net/url"
	"strings"
)

// dbSchemes are the URL schemes of database connection strings.
var dbSchemes = map[string]bool{
	"postgres": true, "postgresql": true, "mysql": true, "mariadb": true, "mongodb": true, "mongodb+srv": true,
	"redis": true, "rediss": true, "sqlserver": true, "mssql": true, "oracle": true, "cockroachdb": true,
}

// DatabaseHost returns the host, lower case and without its port, of the
// first database connection string in s that carries a password
// ("postgres://app:secret@orders.example.com:5432/orders", with or
// without a "jdbc:" prefix), or "". The host names the database without
// giving the password away: it may be kept where the secret may not, and
// it is how a connection string found by a scanner meets the database it
// opens.
func DatabaseHost(s string) string {
	if len(s) > 64<<10 {
		return ""
	}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool {
		return r == ' ' || r == '\n' || r == '\t' || r == '"' || r == '\'' || r == '=' || r == '`'
	}) {
		f = strings.TrimPrefix(f, "jdbc:")
		scheme, _, ok := strings.Cut(f, "://")
		if !ok || !dbSchemes[strings.ToLower(scheme)] {
			continue
		}
		u, err := url.Parse(f)
		if err != nil || u.User == nil {
			continue
		}
		if _, hasPw := u.User.Password(); !hasPw {
			continue
		}
		if h := strings.ToLower(u.Hostname()); h != "" {
			return h
		}
	}
	return ""
}
