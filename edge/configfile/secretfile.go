package configfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"strings"
)

// DedicatedGroup is the group a secret file may be readable by (mode
// 0640) besides the service's own primary group: the group the packages
// create for the services.
const DedicatedGroup = "rackwatch"

// MaxSecretFile bounds what ReadSecretFile reads: a password, passphrase
// or community is a line, not a document.
const MaxSecretFile = 64 << 10

// ErrSecretMode reports a secret file that others can read or write.
var ErrSecretMode = errors.New("configfile: secret file mode")

// OpenSecretFile opens a file that holds secrets (keys, passwords,
// passphrases, communities, tokens) and checks it before anything is read:
//
//   - it is a regular file (a symlink is followed, and the file it points
//     to is what is checked, so a link to a world-readable file fails);
//   - its mode is 0600, or 0640 when its group is dedicated: the group
//     named DedicatedGroup or the process's own primary group, which on a
//     packaged install is the service's group and holds no human users.
//
// The mode is read from the open file, so the file checked is the file
// read. Errors name the file, its mode and the fix.
func OpenSecretFile(path string) (*os.File, error) {
	// Without O_NONBLOCK (secretOpenFlags), opening a FIFO would wait for
	// a writer: a typo must give an error, not a hang.
	f, err := os.OpenFile(path, secretOpenFlags, 0)
	if err != nil {
		return nil, fmt.Errorf("configfile: secret file: %w", err)
	}
	fi, err := f.Stat()
	if err == nil {
		err = checkSecretInfo(path, fi, dedicatedGroup)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// ReadSecretFile returns the secret held by the file at path, checked as
// OpenSecretFile does: its content without the trailing newline. It must
// be one non-empty line.
func ReadSecretFile(path string) (Secret, error) {
	f, err := OpenSecretFile(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxSecretFile+1))
	if err != nil {
		return "", fmt.Errorf("configfile: secret file %s: %w", path, err)
	}
	if len(b) > MaxSecretFile {
		return "", fmt.Errorf("configfile: secret file %s is larger than %d bytes; it must hold one line", path, MaxSecretFile)
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	switch {
	case len(b) == 0:
		return "", fmt.Errorf("configfile: secret file %s is empty", path)
	case bytes.ContainsAny(b, "\r\n"):
		return "", fmt.Errorf("configfile: secret file %s holds more than one line; it must hold the secret alone", path)
	}
	return Secret(b), nil
}

// checkSecretInfo applies the rules of OpenSecretFile to fi; dedicated
// says whether a group ID is a dedicated group.
func checkSecretInfo(path string, fi fs.FileInfo, dedicated func(gid uint32) bool) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("configfile: secret file %s is not a regular file (%s)", path, fi.Mode().Type())
	}
	perm := fi.Mode().Perm()
	switch perm {
	case 0o600:
		return nil
	case 0o640:
		gid, ok := fileGID(fi)
		if ok && dedicated(gid) {
			return nil
		}
		return fmt.Errorf("%w: %s has mode %04o but its group %s is not a dedicated group (%q or the service's own); "+
			"it holds a secret (fix: chmod 600 %s, or chgrp %s %s)", ErrSecretMode, path, perm, groupName(gid, ok), DedicatedGroup, path, DedicatedGroup, path)
	}
	return fmt.Errorf("%w: %s has mode %04o; it holds a secret, so it must be 0600, or 0640 with group %q (fix: chmod 600 %s)",
		ErrSecretMode, path, perm, DedicatedGroup, path)
}

// dedicatedGroup reports whether gid is the process's primary group or
// the group named DedicatedGroup.
func dedicatedGroup(gid uint32) bool {
	if int(gid) == os.Getegid() {
		return true
	}
	g, err := user.LookupGroupId(fmt.Sprint(gid))
	return err == nil && g.Name == DedicatedGroup
}

func groupName(gid uint32, ok bool) string {
	if !ok {
		return "(unknown)"
	}
	if g, err := user.LookupGroupId(fmt.Sprint(gid)); err == nil {
		return fmt.Sprintf("%q", g.Name)
	}
	return fmt.Sprint(gid)
}

// ResolveSecret fills *s from the file named by the config key fileKey
// (e.g. "mqtt.password_file") when file is set; key is the inline form
// (e.g. "mqtt.password"). Setting both is an error. An inline secret is
// accepted, for labs and tests, with a warning that names the key to
// use instead. Errors keep the file, line and key of the configuration.
func (f *File) ResolveSecret(errs *Errors, key string, s *Secret, fileKey, file string) {
	switch {
	case file != "" && *s != "":
		errs.Add(f.Errorf(fileKey, "set either %s or %s, not both", key, fileKey))
	case file != "":
		v, err := ReadSecretFile(file)
		if err != nil {
			errs.Add(f.Errorf(fileKey, "%s", strings.TrimPrefix(err.Error(), "configfile: ")))
			return
		}
		*s = v
	case *s != "":
		f.Warnf(key, "holds a secret inline; put it in a file of mode 0600 and name it with %s", fileKey)
	}
}

// Warnf records a warning about key: something accepted that an operator
// should change. check-config prints the warnings and run logs them.
func (f *File) Warnf(key, format string, args ...any) {
	f.warnings = append(f.warnings, f.Errorf(key, format, args...).Error())
}

// Warnings returns the warnings recorded while validating, each located
// like an error.
func (f *File) Warnings() []string {
	if f == nil {
		return nil
	}
	return f.warnings
}
