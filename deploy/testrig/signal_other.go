//go:build !unix

package testrig

import (
	"os/exec"
	"syscall"
)

const (
	sigTerm = 0
	sigKill = 1
)

// sysProcAttr has no process groups or users to set up off Unix.
func sysProcAttr(*ids) *syscall.SysProcAttr { return nil }

// signalGroup can only kill the process itself off Unix.
func signalGroup(cmd *exec.Cmd, _ int, _ int) {
	_ = cmd.Process.Kill()
}

// processExists cannot tell off Unix, so stale directories are kept.
func processExists(int) bool { return true }
