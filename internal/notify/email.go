package notify

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/mail"
	"net/smtp"
	"strings"
	"time"

	"github.com/ctem-dev/ctem/internal/netguard"
)

// Email sends digests by SMTP (net/smtp): STARTTLS whenever the server
// offers it, required unless AllowPlain; PLAIN authentication when a
// username is set (net/smtp refuses it without TLS except on loopback).
type Email struct {
	// Addr is the server's host:port (587 for submission).
	Addr     string
	From     string
	To       []string
	Username string
	// Password is a secret: it never appears in an error.
	Password string
	Policy   netguard.Policy
	// AllowPlain sends without TLS when the server offers no STARTTLS:
	// for a relay on the same host or network only.
	AllowPlain bool
	// TLSConfig, when set, is used for STARTTLS (its ServerName defaults
	// to Addr's host).
	TLSConfig *tls.Config
	// Timeout bounds the whole exchange; 0 is 30 seconds.
	Timeout time.Duration
}

// Name returns "email".
func (e *Email) Name() string { return "email" }

// ErrNoTLS is returned when the server offers no STARTTLS and plain
// delivery is not allowed.
var ErrNoTLS = errors.New("smtp server offers no STARTTLS")

// address checks an address for a header: parsed by net/mail, no line
// breaks (header injection).
func address(a string) (string, error) {
	if strings.ContainsAny(a, "\r\n") {
		return "", fmt.Errorf("address %q has a line break", a)
	}
	p, err := mail.ParseAddress(a)
	if err != nil {
		return "", fmt.Errorf("address %q: %w", a, err)
	}
	return p.Address, nil
}

// EmailBody returns the message (headers and a plain-text body, CRLF line
// ends) of m from from to to. Every header value is one line; the
// subject is MIME-encoded when not ASCII.
func EmailBody(m Message, from string, to []string, now time.Time) []byte {
	var b strings.Builder
	id := make([]byte, 12)
	rand.Read(id)
	host := "ctem.invalid"
	if _, h, ok := strings.Cut(from, "@"); ok {
		host = h
	}
	fmt.Fprintf(&b, "From: %s\r\n", from)
	fmt.Fprintf(&b, "To: %s\r\n", strings.Join(to, ", "))
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", clip(oneLine(m.Title), 200)))
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", hex.EncodeToString(id), host)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\nAuto-Submitted: auto-generated\r\n\r\n")
	for _, k := range kindOrder {
		n := 0
		for _, e := range m.Events {
			if e.Kind != k {
				continue
			}
			if n == 0 {
				fmt.Fprintf(&b, "%s (%d)\r\n\r\n", kindTitle[k], m.Counts[k])
			}
			n++
			fmt.Fprintf(&b, "- %s", clip(oneLine(e.Title), 300))
			if e.Owner != "" {
				fmt.Fprintf(&b, " (owner: %s)", clip(oneLine(e.Owner), 80))
			}
			b.WriteString("\r\n")
			if e.Detail != "" {
				fmt.Fprintf(&b, "  %s\r\n", clip(oneLine(e.Detail), 300))
			}
		}
		if n > 0 {
			b.WriteString("\r\n")
		}
	}
	if m.More > 0 {
		fmt.Fprintf(&b, "and %d more: see ctem paths, ctem sla --breached and ctem policy test.\r\n", m.More)
	}
	return []byte(b.String())
}

// Send delivers m to every recipient in one SMTP transaction.
func (e *Email) Send(ctx context.Context, m Message) error {
	from, err := address(e.From)
	if err != nil {
		return fmt.Errorf("email from: %w", err)
	}
	if len(e.To) == 0 {
		return errors.New("email: no recipient")
	}
	var to []string
	for _, a := range e.To {
		t, err := address(a)
		if err != nil {
			return fmt.Errorf("email to: %w", err)
		}
		to = append(to, t)
	}
	host, _, err := net.SplitHostPort(e.Addr)
	if err != nil {
		return fmt.Errorf("smtp address %q: %w", e.Addr, err)
	}
	timeout := e.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := e.Policy.DialContext(ctx, "tcp", e.Addr)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", host, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", host, err)
	}
	defer c.Close()
	if err := c.Hello("ctem"); err != nil {
		return fmt.Errorf("smtp %s: hello: %w", host, err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		cfg := e.TLSConfig
		if cfg == nil {
			cfg = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		if cfg.ServerName == "" {
			cfg = cfg.Clone()
			cfg.ServerName = host
		}
		if err := c.StartTLS(cfg); err != nil {
			return fmt.Errorf("smtp %s: starttls: %w", host, err)
		}
	} else if !e.AllowPlain {
		return fmt.Errorf("smtp %s: %w (allow plain delivery only for a relay on the same network)", host, ErrNoTLS)
	}
	if e.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", e.Username, e.Password, host)); err != nil {
			return fmt.Errorf("smtp %s: authenticate as %s: %w", host, e.Username, err)
		}
	}
	if err := c.Mail(from); err != nil {
		return fmt.Errorf("smtp %s: mail from: %w", host, err)
	}
	for _, t := range to {
		if err := c.Rcpt(t); err != nil {
			return fmt.Errorf("smtp %s: rcpt to %s: %w", host, t, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp %s: data: %w", host, err)
	}
	if _, err := w.Write(EmailBody(m, from, to, m.At)); err != nil {
		return fmt.Errorf("smtp %s: data: %w", host, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp %s: data: %w", host, err)
	}
	return c.Quit()
}
