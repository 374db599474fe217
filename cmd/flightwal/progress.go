package main

import (
	"fmt"
	"io"
	"os"
	"time"
)

// progress reports a put's acks: on a terminal one line redrawn in place
// (at most every interval), otherwise a plain line every interval.
type progress struct {
	w        io.Writer
	tty      bool
	interval time.Duration
	batches  int
	start    time.Time
	last     time.Time
	acks     int
	rows     int64
	bytes    int64
}

func newProgress(w *os.File, batches int) *progress {
	tty := false
	if st, err := w.Stat(); err == nil {
		tty = st.Mode()&os.ModeCharDevice != 0
	}
	interval := time.Second
	if tty {
		interval = 100 * time.Millisecond
	}
	now := time.Now()
	return &progress{w: w, tty: tty, interval: interval, batches: batches, start: now, last: now}
}

// ack records one PutResult of rows rows and bytes Arrow bytes.
func (p *progress) ack(rows, bytes int64) {
	p.acks++
	p.rows += rows
	p.bytes += bytes
	if now := time.Now(); now.Sub(p.last) >= p.interval {
		p.last = now
		p.print(false)
	}
}

// done ends the redrawn line on a terminal.
func (p *progress) done() {
	if p.tty && p.acks > 0 {
		p.print(true)
	}
}

func (p *progress) print(final bool) {
	secs := max(time.Since(p.start).Seconds(), 1e-9)
	line := fmt.Sprintf("acks %d/%d  rows %d  %.0f rows/s  %.1f MB/s", p.acks, p.batches, p.rows, float64(p.rows)/secs, float64(p.bytes)/secs/1e6)
	switch {
	case !p.tty:
		fmt.Fprintln(p.w, line)
	case final:
		fmt.Fprintf(p.w, "\r%s\n", line)
	default:
		fmt.Fprintf(p.w, "\r%s", line)
	}
}
