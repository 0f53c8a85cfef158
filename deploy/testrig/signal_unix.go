//go:build unix

package testrig

import (
	"errors"
	"os/exec"
	"syscall"
)

const (
	sigTerm = syscall.SIGTERM
	sigKill = syscall.SIGKILL
)

// signalGroup signals the process group led by pid. Errors are ignored: the
// group may already be gone.
func signalGroup(_ *exec.Cmd, pid int, sig syscall.Signal) {
	_ = syscall.Kill(-pid, sig)
}

// processExists reports whether pid may still run; only a definite "no
// such process" counts as gone.
func processExists(pid int) bool {
	return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
