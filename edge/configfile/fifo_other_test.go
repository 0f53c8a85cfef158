//go:build !unix

package configfile

import "errors"

func mkfifo(string) error { return errors.New("unsupported") }
