package ingest_test

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
)

// xmlDoc is an Nmap-like document of n hosts.
func xmlDoc(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0"?><nmaprun scanner="nmap" args="nmap -sV 10.0.0.0/16">`)
	for i := range n {
		fmt.Fprintf(&b, `<host><status state="up"/><address addr="10.0.%d.%d" addrtype="ipv4"/><ports><port protocol="tcp" portid="443"><state state="open"/><service name="https" product="nginx" version="1.25.%d"/><script id="vulners" output="cpe:/a:nginx:nginx:1.25&#xa;  CVE-2023-44487  7.5  https://vulners.com/cve/CVE-2023-44487"/></port></ports></host>`+"\n", i/256, i%256, i%10)
	}
	b.WriteString(`</nmaprun>`)
	return b.Bytes()
}

func drainXML(b *testing.B, next func() (xml.Token, error)) {
	for {
		_, err := next()
		if err == io.EOF {
			return
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkXMLToken compares reading every token of a document with the
// bare encoding/xml decoder and with XMLDecoder, which enforces Limits.
func BenchmarkXMLToken(b *testing.B) {
	data := xmlDoc(20_000)
	b.Run("encoding-xml", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			dec := xml.NewDecoder(bufio.NewReader(bytes.NewReader(data)))
			drainXML(b, dec.Token)
		}
	})
	b.Run("XMLDecoder", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			dec := ingest.NewXMLDecoder(bufio.NewReader(bytes.NewReader(data)))
			drainXML(b, dec.Token)
		}
	})
}
