//go:build unix

package configfile

import (
	"io/fs"
	"os"
	"syscall"
)

const secretOpenFlags = os.O_RDONLY | syscall.O_NONBLOCK

// fileGID returns the group owning the file fi describes.
func fileGID(fi fs.FileInfo) (uint32, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Gid, true
}
