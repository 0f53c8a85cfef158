package testrig

import "syscall"

// sysProcAttr puts the component in its own process group, so stopping it
// also stops what it spawned, and has the kernel kill it if the test binary
// dies without running its cleanups (a test timeout, for instance). A
// component that must not run as root is started as runAs directly:
// dropping privileges itself would clear the parent-death signal.
func sysProcAttr(runAs *ids) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if runAs != nil {
		a.Credential = &syscall.Credential{Uid: runAs.uid, Gid: runAs.gid, Groups: []uint32{}}
	}
	return a
}
