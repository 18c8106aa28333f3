package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// CSP is the Content-Security-Policy of the HTML report, which its page
// declares in a meta element and the API sends as a header: no script,
// no load of any kind, only the page's own inline style.
const CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

// ErrNoBrowser is returned by PDF when no Chromium is found.
var ErrNoBrowser = errors.New("no Chromium found to print the PDF: install Debian's chromium package or set CTEM_CHROMIUM to the browser's path (or write --format html and print it)")

// pdfTimeout bounds one headless print.
const pdfTimeout = 2 * time.Minute

// Browser returns the path of the Chromium that PDF runs: $CTEM_CHROMIUM
// when set, else the first of chromium, chromium-browser, google-chrome
// on $PATH; ErrNoBrowser when there is none.
func Browser() (string, error) {
	if p := os.Getenv("CTEM_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoBrowser
}

// PDF writes the report as PDF: headless Chromium prints its HTML, from a
// file in a private temporary directory, with a throwaway profile. The
// page's Content Security Policy allows no script and no network load.
// Chromium's sandbox cannot run as root; as root it runs without it.
func PDF(ctx context.Context, w io.Writer, r *Report) error {
	browser, err := Browser()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "ctem-report-")
	if err != nil {
		return fmt.Errorf("print pdf: %w", err)
	}
	defer os.RemoveAll(dir)
	page := filepath.Join(dir, "report.html")
	var h bytes.Buffer
	if err := HTML(&h, r); err != nil {
		return err
	}
	if err := os.WriteFile(page, h.Bytes(), 0o600); err != nil {
		return fmt.Errorf("print pdf: %w", err)
	}
	out := filepath.Join(dir, "report.pdf")
	ctx, cancel := context.WithTimeout(ctx, pdfTimeout)
	defer cancel()
	args := []string{"--headless", "--disable-gpu", "--no-first-run", "--disable-extensions", "--disable-background-networking",
		"--disable-sync", "--user-data-dir=" + filepath.Join(dir, "profile"), "--no-pdf-header-footer", "--print-to-pdf=" + out}
	if os.Geteuid() == 0 {
		args = append(args, "--no-sandbox")
	}
	args = append(args, "file://"+page)
	cmd := exec.CommandContext(ctx, browser, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("print pdf with %s: %w: %s", browser, err, tail(stderr.Bytes(), 500))
	}
	f, err := os.Open(out)
	if err != nil {
		return fmt.Errorf("print pdf with %s: no PDF written: %s", browser, tail(stderr.Bytes(), 500))
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// tail returns the last n bytes of b, as text.
func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(bytes.TrimSpace(b))
}
