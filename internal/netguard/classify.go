package netguard

import "net/netip"

// ranges4 are the IPv4 ranges ctem's own requests may not reach by
// default, with their names (RFC 6890 and the IANA special-purpose
// registry).
var ranges4 = []struct {
	p    netip.Prefix
	name string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this network"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
}

var ranges6 = []struct {
	p    netip.Prefix
	name string
}{
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("100::/64"), "discard-only"},
	{netip.MustParsePrefix("fc00::/7"), "private (unique local)"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// Embedded IPv4 forms: the IPv4 address inside is classified as itself.
var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	nat64L    = netip.MustParsePrefix("64:ff9b:1::/48")
	compat4   = netip.MustParsePrefix("::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// Classify returns why ip may not be reached ("loopback", "private" ...),
// or "" when it may. IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible
// (::a.b.c.d), NAT64 (64:ff9b::/96, 64:ff9b:1::/48) and 6to4 (2002::/16)
// addresses are classified by the IPv4 address they carry, so that none
// of them reaches an internal IPv4 host through a translator.
func Classify(ip netip.Addr) string {
	if !ip.IsValid() {
		return "invalid"
	}
	ip = ip.WithZone("")
	if ip.Is4In6() {
		return classify4(ip.Unmap())
	}
	if ip.Is4() {
		return classify4(ip)
	}
	for _, r := range ranges6 {
		if r.p.Contains(ip) {
			return r.name
		}
	}
	b := ip.As16()
	switch {
	case nat64.Contains(ip) || compat4.Contains(ip):
		if why := classify4(netip.AddrFrom4([4]byte(b[12:16]))); why != "" {
			return why + " (embedded in IPv6)"
		}
	case nat64L.Contains(ip):
		// Local-use NAT64 (RFC 8215) translates to whatever its operator
		// chose: an internal network.
		return "local-use NAT64"
	case sixToFour.Contains(ip):
		if why := classify4(netip.AddrFrom4([4]byte(b[2:6]))); why != "" {
			return why + " (embedded in 6to4)"
		}
	}
	return ""
}

func classify4(ip netip.Addr) string {
	if ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return "broadcast"
	}
	for _, r := range ranges4 {
		if r.p.Contains(ip) {
			return r.name
		}
	}
	return ""
}
