// Package debian builds the Debian packages of rackwatch-edge, one per
// architecture the rack controllers and API nodes run (amd64, arm64,
// armhf), from a cross-built binary and the files operators otherwise
// install by hand: the systemd unit (deploy/systemd), the example
// configuration as a conffile (deploy/config), and, beside this file, the
// sysusers.d entry and the maintainer scripts.
//
// `make package` cross-builds the binaries and runs ./deploy/debian/mkdeb,
// which calls Build for each; dpkg-deb writes the archives into dist/.
package debian
