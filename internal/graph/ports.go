package graph

import (
	"strconv"
	"strings"

	"github.com/ctem-dev/ctem/internal/model"
)

// relPortOf is a relation the analysis makes, never stored: P —port-of→ H
// says that asset P is port N of asset H (a scanner's host:ADDR:N beside
// host:ADDR). A weakness on P that runs code runs it on H.
const relPortOf model.RelationType = "port-of"

// portOf returns the port number a port asset's key adds to its parent's
// key ("host:10.0.0.5:3000" of "host:10.0.0.5"), or 0.
func portOf(parent, child string) int {
	rest, ok := strings.CutPrefix(child, parent+":")
	if !ok || rest == "" || len(rest) > 5 {
		return 0
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n <= 0 || n > 65535 {
		return 0
	}
	return n
}

// hostPort returns the port of a scanner's port asset key
// ("host:10.0.0.5:3000", as model.HostKey writes it), or 0.
func hostPort(key string) int {
	rest, ok := strings.CutPrefix(key, "host:")
	i := strings.LastIndexByte(rest, ':')
	if !ok || i <= 0 {
		return 0
	}
	return portOf(rest[:i], rest)
}

// portAdmits reports whether a network relation's action lets traffic to
// port n of protocol proto through: "" (nothing said) and "*" admit
// everything; "tcp" every TCP port; "tcp/443" and "tcp/8000-8080" the
// ports they name; "icmp" none. An action of another form says nothing
// about ports and admits.
func portAdmits(action, proto string, n int) bool {
	a := strings.ToLower(strings.TrimSpace(action))
	if a == "" || a == "*" || a == "all" || a == "-1" {
		return true
	}
	p, ports, hasPorts := strings.Cut(a, "/")
	switch p {
	case "tcp", "udp", "sctp":
	case "icmp", "icmpv6":
		return false
	default:
		return true
	}
	if p != proto {
		return false
	}
	if !hasPorts || ports == "" || ports == "*" {
		return true
	}
	lo, hi, isRange := strings.Cut(ports, "-")
	from, err1 := strconv.Atoi(lo)
	to := from
	var err2 error
	if isRange {
		to, err2 = strconv.Atoi(hi)
	}
	if err1 != nil || err2 != nil {
		return true
	}
	return n >= from && n <= to
}

// refinePorts makes a weakness reachable only through the port that
// serves it. A port asset P (key parent + ":" + N, and the parent exposes
// it, as Nmap and Nuclei write their findings' targets; or host:ADDR:N
// exposed by the asset that host:ADDR is an alias of) was reached by
// routing from any traffic to its parent H. Now, when H has network
// relations into it (exposes, routes-to, connects-to), P gets a copy of
// each whose action admits port N (see portAdmits; a port of protocol
// label "protocol", else tcp), and H —exposes→ P becomes P —port-of→ H,
// so that a path through port 5000 no longer reaches a weakness on port
// 3000. When nothing leads into H by a relation (it is reached only as an
// entry: the internal network, a public label), H —exposes→ P stays: the
// port the traffic takes is not known. in is not changed; the result
// shares what it does not change. O(R) for R relations.
func refinePorts(in *Input) *Input {
	proto := map[string]string{}
	isPortAsset := map[string]bool{}
	for _, a := range in.Assets {
		if a.Labels["protocol"] != "" {
			proto[a.Key] = strings.ToLower(a.Labels["protocol"])
		}
	}
	type child struct {
		rel  int
		key  string
		port int
	}
	children := map[string][]child{}
	var parents []string
	for i, r := range in.Relations {
		if r.Type != model.RelExposes {
			continue
		}
		n := portOf(r.From, r.To)
		if n == 0 && r.From != InternetKey && !strings.HasPrefix(r.From, "host:") {
			// The host's address is an alias of the asset another
			// source describes (a Terraform instance by its IP).
			n = hostPort(r.To)
		}
		if n > 0 {
			if _, ok := children[r.From]; !ok {
				parents = append(parents, r.From)
			}
			children[r.From] = append(children[r.From], child{i, r.To, n})
			isPortAsset[r.To] = true
		}
	}
	if len(children) == 0 {
		return in
	}
	into := map[string][]int{}
	for i, r := range in.Relations {
		switch r.Type {
		case model.RelExposes, model.RelRoutesTo, model.RelConnectsTo:
			if _, ok := children[r.To]; ok && !isPortAsset[r.To] && !isPortAsset[r.From] {
				into[r.To] = append(into[r.To], i)
			}
		}
	}
	replaced := map[int]model.Relation{}
	var added []model.Relation
	for _, parent := range parents {
		cs := children[parent]
		ins := into[parent]
		if len(ins) == 0 {
			continue
		}
		for _, c := range cs {
			p := proto[c.key]
			if p == "" {
				p = "tcp"
			}
			for _, i := range ins {
				r := in.Relations[i]
				if portAdmits(r.Action, p, c.port) {
					r.To = c.key
					added = append(added, r)
				}
			}
			r := in.Relations[c.rel]
			replaced[c.rel] = model.Relation{From: c.key, To: parent, Type: relPortOf, Source: r.Source}
		}
	}
	if len(replaced) == 0 {
		return in
	}
	out := *in
	out.Relations = make([]model.Relation, 0, len(in.Relations)+len(added))
	for i, r := range in.Relations {
		if nr, ok := replaced[i]; ok {
			r = nr
		}
		out.Relations = append(out.Relations, r)
	}
	out.Relations = append(out.Relations, added...)
	return &out
}
