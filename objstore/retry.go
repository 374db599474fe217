package objstore

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// RetryPolicy bounds retries of ErrUnavailable failures. Zero fields take
// defaults (OrDefaults): 6 attempts, 20ms base delay, 2s maximum delay.
type RetryPolicy struct {
	Attempts int           // total calls of fn, including the first
	Base     time.Duration // delay cap before the second attempt; doubles each time
	Max      time.Duration // largest delay cap
}

// OrDefaults is p with its zero fields set to the defaults.
func (p RetryPolicy) OrDefaults() RetryPolicy {
	if p.Attempts <= 0 {
		p.Attempts = 6
	}
	if p.Base <= 0 {
		p.Base = 20 * time.Millisecond
	}
	if p.Max <= 0 {
		p.Max = 2 * time.Second
	}
	return p
}

// Retry runs fn, retrying errors wrapping ErrUnavailable with exponential
// backoff and full jitter (a delay drawn uniformly from [0, min(Max, Base<<i)]).
// Any other error, or success, returns at once. It returns the last error,
// or ctx.Err() if the context ends while waiting.
func Retry(ctx context.Context, p RetryPolicy, fn func(ctx context.Context) error) error {
	p = p.OrDefaults()
	var err error
	for i := 0; i < p.Attempts; i++ {
		if err = fn(ctx); err == nil || !errors.Is(err, ErrUnavailable) {
			return err
		}
		if i == p.Attempts-1 {
			break
		}
		d := p.Base
		for j := 0; j < i && d < p.Max; j++ {
			d *= 2
		}
		d = min(d, p.Max)
		t := time.NewTimer(time.Duration(rand.Int64N(int64(d) + 1)))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	return err
}
