//go:build !unix

package hostsignals

import "errors"

// syscallEPIPE never matches where there is no /dev/kmsg.
var syscallEPIPE = errors.New("hostsignals: no kmsg on this platform")
