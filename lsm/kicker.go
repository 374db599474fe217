package lsm

// kicker is a coalescing wake-up signal: any number of kicks before the
// loop gets to run wake it once. It is never closed, so a kick may come
// from anywhere at any time, even during shutdown.
type kicker chan struct{}

func newKicker() kicker { return make(kicker, 1) }

func (k kicker) kick() {
	select {
	case k <- struct{}{}:
	default:
	}
}

// background runs fn each time k is kicked, until stop is closed; then it
// closes done. It is the body of the flush and compaction goroutines.
func background(stop <-chan struct{}, k kicker, done chan<- struct{}, fn func()) {
	defer close(done)
	for {
		select {
		case <-stop:
			return
		case <-k:
			fn()
		}
	}
}

// closed reports whether ch is closed (a stop or closing channel).
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
