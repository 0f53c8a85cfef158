// Command mkdeb builds the rackwatch-edge .deb files from cross-built
// binaries; `make package` runs it.
//
//	mkdeb -describe "$(git describe --tags --always --dirty)" \
//	    -epoch "$(git log -1 --format=%ct)" -out dist \
//	    -modcache "$(go env GOMODCACHE)" -goroot "$(go env GOROOT)" \
//	    amd64=PATH arm64=PATH armhf=PATH
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rackwatch/rackwatch/deploy/debian"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mkdeb:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("mkdeb", flag.ContinueOnError)
	describe := fs.String("describe", "", "`git describe --tags --always --dirty` output the version is derived from")
	version := fs.String("version", "", "Debian version to use instead of the one derived from -describe")
	epoch := fs.String("epoch", "", "commit time in seconds since 1970 (SOURCE_DATE_EPOCH): changelog date and file dates")
	maintainer := fs.String("maintainer", "", "Maintainer field, \"Name <address>\"")
	root := fs.String("root", ".", "repository root")
	out := fs.String("out", "dist", "output directory")
	modCache := fs.String("modcache", "", "go env GOMODCACHE: the linked modules' license texts")
	goroot := fs.String("goroot", "", "go env GOROOT: the standard library's license text")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("no ARCH=BINARY arguments")
	}
	secs, err := strconv.ParseInt(*epoch, 10, 64)
	if err != nil {
		return fmt.Errorf("-epoch %q (make: SOURCE_DATE_EPOCH): want seconds since 1970, as git log -1 --format=%%ct prints: %w", *epoch, err)
	}
	commit := time.Unix(secs, 0).UTC()
	v := *version
	if v == "" {
		if v, err = debian.Version(*describe, commit); err != nil {
			return fmt.Errorf("%w (outside a git checkout, set -version; make: DEB_VERSION)", err)
		}
	} else if err := debian.ValidateVersion(v); err != nil {
		return fmt.Errorf("-version: %w", err)
	}
	for _, a := range fs.Args() {
		arch, bin, ok := strings.Cut(a, "=")
		if !ok {
			return fmt.Errorf("argument %q: want ARCH=BINARY", a)
		}
		p, err := debian.Build(debian.Opts{
			Root:       *root,
			Binary:     bin,
			Arch:       arch,
			Version:    v,
			Describe:   *describe,
			Time:       commit,
			Maintainer: *maintainer,
			OutDir:     *out,
			ModCache:   *modCache,
			GOROOT:     *goroot,
		})
		if err != nil {
			return err
		}
		fmt.Println(p)
	}
	return nil
}
