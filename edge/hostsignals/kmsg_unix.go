//go:build unix

package hostsignals

import "syscall"

// syscallEPIPE is what a /dev/kmsg read returns when the ring buffer
// overwrote records the reader had not read yet.
var syscallEPIPE error = syscall.EPIPE
