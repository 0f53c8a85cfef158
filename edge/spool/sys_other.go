//go:build !linux

package spool

import (
	"fmt"
	"os"
)

// lockDir creates the lock file; other systems go without the lock.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	return f, nil
}

func fdatasync(f *os.File) error { return f.Sync() }
