//go:build unix && !linux

package testrig

import "syscall"

// sysProcAttr puts the component in its own process group, so stopping it
// also stops what it spawned, and starts it as runAs when set.
func sysProcAttr(runAs *ids) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true}
	if runAs != nil {
		a.Credential = &syscall.Credential{Uid: runAs.uid, Gid: runAs.gid, Groups: []uint32{}}
	}
	return a
}
