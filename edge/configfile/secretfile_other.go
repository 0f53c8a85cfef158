//go:build !unix

package configfile

import (
	"io/fs"
	"os"
)

const secretOpenFlags = os.O_RDONLY

// fileGID is unknown where files have no Unix group: a 0640 secret file
// is then refused.
func fileGID(fs.FileInfo) (uint32, bool) { return 0, false }
