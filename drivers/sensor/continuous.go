package sensor

import (
	"sync"
	"time"

	"periph.io/x/conn/v3/physic"
)

// Continuous runs the loop behind a driver's SenseContinuous, and lets its
// Halt stop that loop. The zero value is ready to use.
type Continuous struct {
	mu   sync.Mutex // serialises Start and Halt
	stop chan struct{}
	wg   sync.WaitGroup
}

// Start stops the previous loop, if any, then calls sense at once and every
// interval after, sending each result on the returned channel. The channel
// is closed by Halt, or after sense fails; the driver's Sense tells why.
// interval must be positive.
func (c *Continuous) Start(interval time.Duration, sense func() (physic.Env, error)) <-chan physic.Env {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopLocked()
	ch := make(chan physic.Env)
	stop := make(chan struct{})
	c.stop = stop
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(ch)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			e, err := sense()
			if err != nil {
				return
			}
			select {
			case ch <- e:
			case <-stop:
				return
			}
			select {
			case <-t.C:
			case <-stop:
				return
			}
		}
	}()
	return ch
}

// Halt stops the loop, if any, and waits for it to exit; then, with no
// loop able to start meanwhile, it calls halt (which may be nil) to put the
// chip to sleep. The caller must not hold a lock that sense needs.
func (c *Continuous) Halt(halt func() error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopLocked()
	if halt == nil {
		return nil
	}
	return halt()
}

func (c *Continuous) stopLocked() {
	if c.stop == nil {
		return
	}
	close(c.stop)
	c.stop = nil
	c.wg.Wait()
}
