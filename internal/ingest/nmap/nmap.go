// Package nmap parses Nmap's XML output (-oX). Every open port is a
// network finding on its host:port; every CVE the vulners script lists for
// a port's service is a vulnerability finding there; and every other
// script result that reports a vulnerability (the "VULNERABLE" state of
// Nmap's vulns library) is a finding of its own. Hosts and their open
// ports become assets, joined by "exposes" relations.
package nmap

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/model"
)

// Tool is the tool name findings and scans carry.
const Tool = "nmap"

const formatName = "nmap"

// Format is Nmap's XML output.
var Format = ingest.Format{
	Version: ParserVersion,
	Name:    formatName,
	Title:   "Nmap XML output (-oX), with vulners and vuln script results",
	Detect:  Detect,
	Parse:   Parse,
}

// Detect accepts an XML document whose root is nmaprun.
func Detect(s *ingest.Sniff) bool {
	return s.Kind == ingest.SniffXML && s.XMLRoot.Local == "nmaprun"
}

type elem struct {
	Key   string `xml:"key,attr"`
	Value string `xml:",chardata"`
}

type table struct {
	Key    string  `xml:"key,attr"`
	Tables []table `xml:"table"`
	Elems  []elem  `xml:"elem"`
}

type script struct {
	ID     string  `xml:"id,attr"`
	Output string  `xml:"output,attr"`
	Tables []table `xml:"table"`
	Elems  []elem  `xml:"elem"`
}

type port struct {
	Protocol string `xml:"protocol,attr"`
	PortID   string `xml:"portid,attr"`
	State    struct {
		State string `xml:"state,attr"`
	} `xml:"state"`
	Service struct {
		Name      string   `xml:"name,attr"`
		Product   string   `xml:"product,attr"`
		Version   string   `xml:"version,attr"`
		ExtraInfo string   `xml:"extrainfo,attr"`
		Tunnel    string   `xml:"tunnel,attr"`
		CPE       []string `xml:"cpe"`
	} `xml:"service"`
	Scripts []script `xml:"script"`
}

type host struct {
	Status struct {
		State string `xml:"state,attr"`
	} `xml:"status"`
	Addresses []struct {
		Addr     string `xml:"addr,attr"`
		AddrType string `xml:"addrtype,attr"`
	} `xml:"address"`
	Hostnames []struct {
		Name string `xml:"name,attr"`
		Type string `xml:"type,attr"`
	} `xml:"hostnames>hostname"`
	Ports       []port   `xml:"ports>port"`
	HostScripts []script `xml:"hostscript>script"`
}

// parser holds the state of one report.
type parser struct {
	in      *ingest.Input
	sink    ingest.Sink
	dec     *ingest.XMLDecoder
	version string
	// perHost is set when neither the user nor the command line names the
	// scan's targets: each host is then a scan of its own.
	perHost bool
	began   bool
}

// Parse reads an Nmap XML report from in, one host at a time.
//
// The scan's target is the user's --target, else the targets on Nmap's
// command line ("nmap -sV 10.0.0.0/24" scans "10.0.0.0/24"), so that a
// rescan of the same range closes the ports it no longer finds open. When
// the command line names none (targets read with -iL), each host is a scan
// of its own, with the host's address as target.
func Parse(ctx context.Context, in *ingest.Input, sink ingest.Sink) error {
	p := &parser{in: in, sink: sink, dec: in.XMLDecoder()}
	return ingest.AsXMLInputError(in, p.dec, p.parse(ctx))
}

func (p *parser) parse(ctx context.Context) error {
	root := false
	depth := 0
	for {
		tok, err := p.dec.Token()
		if errors.Is(err, io.EOF) {
			if !root {
				return p.in.Errorf(p.dec.InputOffset(), "not an Nmap report: no nmaprun element")
			}
			if depth != 0 {
				return io.ErrUnexpectedEOF
			}
			break
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if !root {
				if t.Name.Local != "nmaprun" {
					return p.in.Errorf(p.dec.InputOffset(), "not an Nmap report: root element <%s>", t.Name.Local)
				}
				root = true
				if err := p.start(t); err != nil {
					return err
				}
				continue
			}
			if t.Name.Local != "host" || depth != 2 {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			line, _ := p.dec.InputPos()
			var h host
			if err := p.dec.DecodeElement(&h, &t); err != nil {
				return err
			}
			depth--
			if err := p.host(&h, line); err != nil {
				return err
			}
		case xml.EndElement:
			depth--
		}
	}
	if !p.began {
		// No host answered and nothing named the targets.
		target := p.in.TargetOr("")
		if target == "" {
			p.in.Warn("%s: the Nmap report names no target and no host; pass --target", p.in.Name)
			target = "unknown"
		}
		return p.begin(target)
	}
	return nil
}

// start reads the nmaprun element and begins the report's scan when its
// target is known up front.
func (p *parser) start(t xml.StartElement) error {
	var args string
	for _, a := range t.Attr {
		switch a.Name.Local {
		case "args":
			args = a.Value
		case "version":
			p.version = a.Value
		}
	}
	target := p.in.TargetOr(strings.Join(argTargets(args), " "))
	if target == "" {
		p.perHost = true
		return nil
	}
	return p.begin(target)
}

func (p *parser) begin(target string) error {
	p.began = true
	s := model.Scan{ParserVersion: ParserVersion, Tool: Tool, ToolVersion: p.version, Format: formatName, Target: target}
	if !strings.ContainsAny(target, " /,*") {
		s.Asset = model.HostKey(target, "")
	}
	return p.sink.BeginScan(s)
}

// valueOptions are the Nmap options that take their value as the next
// argument; what follows them is not a target.
var valueOptions = map[string]bool{
	"-p": true, "-e": true, "-S": true, "-D": true, "-g": true, "-b": true, "-iL": true, "-iR": true,
	"-oN": true, "-oX": true, "-oG": true, "-oA": true, "-oS": true, "-oM": true,
	"--exclude": true, "--excludefile": true, "--script": true, "--script-args": true, "--script-args-file": true,
	"--source-port": true, "--data": true, "--data-string": true, "--data-length": true, "--ttl": true,
	"--top-ports": true, "--port-ratio": true, "--exclude-ports": true, "--version-intensity": true,
	"--max-retries": true, "--host-timeout": true, "--min-rate": true, "--max-rate": true,
	"--scan-delay": true, "--max-scan-delay": true, "--min-hostgroup": true, "--max-hostgroup": true,
	"--min-parallelism": true, "--max-parallelism": true, "--min-rtt-timeout": true, "--max-rtt-timeout": true,
	"--initial-rtt-timeout": true, "--stylesheet": true, "--datadir": true, "--dns-servers": true,
	"--mtu": true, "--spoof-mac": true, "--proxies": true, "--resume": true, "--servicedb": true,
	"--versiondb": true, "--ip-options": true, "--script-timeout": true, "--stats-every": true, "-sI": true,
}

// argTargets returns the targets on an Nmap command line: the arguments
// that are neither options nor an option's value.
func argTargets(args string) []string {
	fields := strings.Fields(args)
	if len(fields) == 0 {
		return nil
	}
	var out []string
	for i := 1; i < len(fields); i++ {
		f := fields[i]
		if strings.HasPrefix(f, "-") {
			if valueOptions[f] {
				i++
			}
			continue
		}
		out = append(out, f)
	}
	return out
}

// address picks the host's IP address (IPv4 first), else its first name.
func (h *host) address() string {
	for _, typ := range []string{"ipv4", "ipv6"} {
		for _, a := range h.Addresses {
			if a.AddrType == typ && a.Addr != "" {
				return a.Addr
			}
		}
	}
	for _, a := range h.Addresses {
		if a.AddrType != "mac" && a.Addr != "" {
			return a.Addr
		}
	}
	for _, n := range h.Hostnames {
		if n.Name != "" {
			return n.Name
		}
	}
	return ""
}

func (p *parser) host(h *host, line int) error {
	addr := h.address()
	if addr == "" {
		return nil // nothing to name it by
	}
	if p.perHost {
		if h.Status.State != "" && h.Status.State != "up" {
			return nil
		}
		if err := p.begin(addr); err != nil {
			return err
		}
	}
	hostKey := model.HostKey(addr, "")
	a := model.Asset{Key: hostKey, Kind: model.KindHost, Name: addr, Source: Tool}
	var names []string
	for _, n := range h.Hostnames {
		if n.Name != "" && !slices.Contains(names, n.Name) {
			names = append(names, n.Name)
		}
	}
	labels := map[string]string{}
	if len(names) > 0 {
		labels["hostnames"] = strings.Join(names, ",")
	}
	for _, ad := range h.Addresses {
		if ad.AddrType == "mac" && ad.Addr != "" {
			labels["mac"] = ad.Addr
		}
	}
	if len(labels) > 0 {
		a.Labels = labels
	}
	if err := p.sink.Asset(a); err != nil {
		return err
	}
	ptr := "line " + strconv.Itoa(line)
	for i := range h.Ports {
		if err := p.port(addr, hostKey, &h.Ports[i], ptr); err != nil {
			return err
		}
	}
	for i := range h.HostScripts {
		s := &h.HostScripts[i]
		f := p.scriptFinding(s, hostKey, "", model.Package{})
		if f == nil {
			continue
		}
		f.Pointer = ptr + ": hostscript " + s.ID
		if err := p.emit(f, s); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) port(addr, hostKey string, pt *port, ptr string) error {
	if pt.State.State != "open" {
		return nil // closed, filtered and open|filtered ports are no findings
	}
	proto := pt.Protocol
	if proto == "" {
		proto = "tcp"
	}
	where := proto + "/" + pt.PortID
	key := model.HostKey(addr, pt.PortID)
	sv := &pt.Service
	labels := map[string]string{"protocol": proto}
	for k, v := range map[string]string{"service": sv.Name, "product": sv.Product, "version": sv.Version, "tunnel": sv.Tunnel} {
		if v != "" {
			labels[k] = v
		}
	}
	if err := p.sink.Asset(model.Asset{Key: key, Kind: model.KindHost, Name: addr + ":" + pt.PortID, Labels: labels, Source: Tool}); err != nil {
		return err
	}
	if err := p.sink.Relation(model.Relation{From: hostKey, To: key, Type: model.RelExposes, Source: Tool}); err != nil {
		return err
	}
	ptr += ": port " + where
	title := strings.Join(nonEmpty("open", where, sv.Name, sv.Product, sv.Version), " ")
	var d []string
	if sv.ExtraInfo != "" {
		d = append(d, "Service: "+strings.Join(nonEmpty(sv.Name, sv.Product, sv.Version, "("+sv.ExtraInfo+")"), " "))
	}
	if sv.Tunnel != "" {
		d = append(d, "Tunnel: "+sv.Tunnel)
	}
	if len(sv.CPE) > 0 {
		d = append(d, "CPE: "+strings.Join(sv.CPE, ", "))
	}
	pkg := model.Package{Name: sv.Product, Version: sv.Version}
	if pkg.Name == "" && len(sv.CPE) > 0 {
		pkg.Name = sv.CPE[0]
	}
	// The port's script results.
	var findings []*model.Finding
	var scripts []*script
	for i := range pt.Scripts {
		s := &pt.Scripts[i]
		if s.ID == "vulners" {
			vf, orphans := p.vulners(s, key, where, pkg)
			for _, f := range vf {
				f.Pointer = ptr + ": vulners " + f.RuleID
				findings = append(findings, f)
				scripts = append(scripts, nil)
			}
			if len(orphans) > 0 {
				d = append(d, "Exploits vulners lists without a CVE: "+strings.Join(orphans, ", "))
			}
			continue
		}
		if f := p.scriptFinding(s, key, where, pkg); f != nil {
			f.Pointer = ptr + ": script " + s.ID
			findings = append(findings, f)
			scripts = append(scripts, s)
		}
	}
	open := &model.Finding{
		Tool:        Tool,
		Kind:        model.FindingNetwork,
		RuleID:      "open-port",
		Severity:    model.SeverityInfo,
		Title:       title,
		Description: strings.Join(d, "\n"),
		Asset:       key,
		Location:    model.Location{Component: where},
		Pointer:     ptr,
	}
	if err := p.sink.Finding(open); err != nil {
		return err
	}
	for i, f := range findings {
		if err := p.emit(f, scripts[i]); err != nil {
			return err
		}
	}
	return nil
}

// emit records a script's finding, with the evidence it carries.
func (p *parser) emit(f *model.Finding, s *script) error {
	exploits := f.ToolStatus
	confirmed := s != nil && f.ToolStatus == "VULNERABLE"
	if err := p.sink.Finding(f); err != nil {
		return err
	}
	for _, id := range f.VulnIDs {
		if !strings.HasPrefix(id, "CVE-") {
			continue
		}
		var ev model.Evidence
		switch {
		case s == nil && strings.HasPrefix(exploits, "exploit"):
			ev = model.Evidence{Kind: model.EvidencePublicExploit, Detail: "vulners: " + exploits}
		case confirmed:
			ev = model.Evidence{Kind: model.EvidenceProbeConfirmed, Detail: "nmap script " + s.ID + " reports VULNERABLE"}
		default:
			continue
		}
		ev.Asset, ev.VulnID, ev.Source = f.Asset, id, Tool
		if err := p.sink.Evidence(ev); err != nil {
			return err
		}
	}
	return nil
}

// vulnEntry is one line of the vulners script: an advisory or exploit for
// the service's CPE, with its CVSS score.
type vulnEntry struct {
	id, typ   string
	cvss      string
	isExploit bool
}

func entries(s *script) []vulnEntry {
	var out []vulnEntry
	var walk func(ts []table)
	walk = func(ts []table) {
		for _, t := range ts {
			var e vulnEntry
			for _, el := range t.Elems {
				v := strings.TrimSpace(el.Value)
				switch el.Key {
				case "id":
					e.id = v
				case "type":
					e.typ = v
				case "cvss":
					e.cvss = v
				case "is_exploit":
					e.isExploit = v == "true"
				}
			}
			if e.id != "" {
				out = append(out, e)
			}
			walk(t.Tables)
		}
	}
	walk(s.Tables)
	if len(out) > 0 {
		return out
	}
	// Older vulners versions write only the text: "\tID\tscore\turl[\t*EXPLOIT*]".
	for line := range strings.SplitSeq(s.Output, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		if _, err := strconv.ParseFloat(f[1], 64); err != nil {
			continue
		}
		e := vulnEntry{id: f[0], cvss: f[1], isExploit: slices.Contains(f, "*EXPLOIT*")}
		if strings.HasPrefix(strings.ToUpper(e.id), "CVE-") {
			e.typ = "cve"
		}
		out = append(out, e)
	}
	return out
}

// vulners turns the vulners script's list into one finding per CVE, and
// returns the exploits it lists that name no CVE.
func (p *parser) vulners(s *script, key, where string, pkg model.Package) (out []*model.Finding, orphans []string) {
	list := entries(s)
	exploits := map[string][]string{}
	for _, e := range list {
		if !e.isExploit {
			continue
		}
		ids := model.ExtractVulnIDs(e.id)
		if strings.EqualFold(e.typ, "cve") {
			ids = []string{model.NormalizeVulnID(e.id)}
		}
		if len(ids) == 0 {
			orphans = append(orphans, e.id)
		}
		for _, id := range ids {
			exploits[id] = append(exploits[id], e.id)
		}
	}
	for _, e := range list {
		if !strings.EqualFold(e.typ, "cve") && !(e.typ == "" && strings.HasPrefix(strings.ToUpper(e.id), "CVE-")) {
			continue
		}
		id := model.NormalizeVulnID(e.id)
		score, err := strconv.ParseFloat(e.cvss, 64)
		sev := model.SeverityFromScore(score)
		if err != nil || score < 0 || score > 10 {
			sev = model.SeverityUnknown
		}
		f := &model.Finding{
			Tool:         Tool,
			Kind:         model.FindingVulnerability,
			RuleID:       id,
			VulnIDs:      []string{id},
			Severity:     sev,
			ToolSeverity: "cvss " + e.cvss,
			Title:        strings.Join(nonEmpty(id, "in", pkg.Name, pkg.Version), " "),
			Description:  "Listed by the Nmap vulners script for the service on " + where + " (CVSS " + e.cvss + ").",
			Asset:        key,
			Package:      pkg,
			Location:     model.Location{Component: where},
		}
		if xs := exploits[id]; len(xs) > 0 {
			// vulners marks exploits "*EXPLOIT*"; name a few, count all.
			f.ToolStatus = "exploit: " + strings.Join(xs[:min(len(xs), 3)], ", ")
			if len(xs) > 3 {
				f.ToolStatus += fmt.Sprintf(" and %d more", len(xs)-3)
			}
		}
		out = append(out, f)
	}
	return out, orphans
}

var (
	riskRE  = regexp.MustCompile(`(?i)Risk factor:\s*([A-Za-z]+)`)
	stateRE = regexp.MustCompile(`State:\s*((?:LIKELY )?VULNERABLE)`)
)

// scriptFinding returns a finding for a script result that reports a
// vulnerability, or nil. Nmap's vulns library writes "VULNERABLE:" and a
// "State: VULNERABLE" (or "LIKELY VULNERABLE") line; "NOT VULNERABLE"
// is no finding.
func (p *parser) scriptFinding(s *script, key, where string, pkg model.Package) *model.Finding {
	out := strings.ReplaceAll(s.Output, "NOT VULNERABLE", "")
	if !strings.Contains(out, "VULNERABLE") {
		return nil
	}
	f := &model.Finding{
		Tool:        Tool,
		Kind:        model.FindingNetwork,
		RuleID:      s.ID,
		VulnIDs:     model.ExtractVulnIDs(s.Output),
		Severity:    model.SeverityUnknown,
		Title:       scriptTitle(out, s.ID),
		Description: clip(strings.TrimSpace(s.Output), 4000),
		Asset:       key,
		Location:    model.Location{Component: where},
		ToolStatus:  "VULNERABLE",
	}
	if m := stateRE.FindStringSubmatch(out); m != nil {
		f.ToolStatus = m[1]
	}
	if m := riskRE.FindStringSubmatch(out); m != nil {
		f.ToolSeverity = m[1]
		f.Severity = model.ParseSeverity(m[1])
	}
	if len(f.VulnIDs) > 0 {
		f.Kind = model.FindingVulnerability
		f.Package = pkg
	}
	if where == "" {
		f.Location.Component = "host"
	}
	return f
}

// scriptTitle is the line that follows "VULNERABLE:" in a vulns library
// report, else the script's id.
func scriptTitle(out, id string) string {
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if strings.Contains(l, "VULNERABLE:") {
			for _, next := range lines[i+1:] {
				if t := strings.TrimSpace(next); t != "" {
					return clip(id+": "+t, 200)
				}
			}
		}
	}
	return id + ": vulnerable"
}

func nonEmpty(xs ...string) []string {
	out := xs[:0:0]
	for _, x := range xs {
		if x = strings.TrimSpace(x); x != "" && x != "()" {
			out = append(out, x)
		}
	}
	return out
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
