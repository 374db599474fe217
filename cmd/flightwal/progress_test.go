package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestPutProgress(t *testing.T) {
	var plain, tty bytes.Buffer
	p := &progress{w: &plain, batches: 3, start: time.Now().Add(-time.Second)}
	q := &progress{w: &tty, tty: true, batches: 3, start: time.Now().Add(-time.Second)}
	for _, x := range []*progress{p, q} {
		x.ack(10, 1e6)
		x.ack(10, 1e6)
		x.ack(5, 5e5)
		x.done()
	}
	if got := strings.Count(plain.String(), "\n"); got != 3 || strings.Contains(plain.String(), "\r") || !strings.Contains(plain.String(), "acks 3/3  rows 25") {
		t.Fatalf("plain progress:\n%q", plain.String())
	}
	if s := tty.String(); strings.Count(s, "\r") != 4 || strings.Count(s, "\n") != 1 || !strings.HasSuffix(s, "\n") || !strings.Contains(s, "MB/s") {
		t.Fatalf("terminal progress:\n%q", s)
	}
}
