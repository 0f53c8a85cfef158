package spool

import (
	"fmt"
	"os"
	"syscall"
	"time"
)

// lockDir takes an exclusive advisory lock (flock(2)) on dir/lock so that a
// second process cannot interleave its writes with ours. The kernel drops
// the lock when the process dies, however it dies.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	// A few tries: a process forking a child (os/exec) lends the child its
	// descriptors until the exec closes them, so a lock just released can
	// still be held for an instant. Another process really using the spool
	// holds it far longer.

	for try := 0; try < 20; try++ {
		if err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != syscall.EWOULDBLOCK {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("spool: lock %s (is another process using the spool?): %w", path, err)
	}
	return f, nil
}

// fdatasync(2) makes the file's data and the metadata needed to read it
// (its size) durable, skipping the timestamps that fsync would also journal:
// one journal commit fewer for each in-place overwrite of the ack file.
func fdatasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			if err != nil {
				return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
			}
			return nil
		}
	}
}
