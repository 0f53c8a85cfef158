package debian

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

var (
	// describeRE splits `git describe --tags --always --dirty` output that
	// starts from a tag: TAG, TAG-N-gHASH, either with -dirty.
	describeRE = regexp.MustCompile(`^(.+?)(?:-([0-9]+)-g([0-9a-f]{4,40}))?(-dirty)?$`)
	// hashRE is what --always prints when no tag is reachable: git
	// abbreviates to at least 7 digits, which keeps short numeric tags
	// such as 2024 out of it.
	hashRE = regexp.MustCompile(`^([0-9a-f]{7,40})(-dirty)?$`)
	// tagRE accepts release tags: v1.2.3, 1.2, v2.0.0-rc.1.
	tagRE = regexp.MustCompile(`^v?([0-9][0-9A-Za-z.]*)(?:-([0-9A-Za-z.]+))?$`)

	// Debian Policy 5.6.12: [epoch:]upstream_version[-debian_revision]. The
	// upstream version starts with a digit and holds hyphens only when a
	// revision follows.
	epochRE    = regexp.MustCompile(`^[0-9]+$`)
	upstreamRE = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~-]*$`)
	revisionRE = regexp.MustCompile(`^[A-Za-z0-9.+~]+$`)
)

// Version maps `git describe --tags --always --dirty` output and the commit
// time to a Debian version that sorts the way the builds were made:
//
//	abc1234             0.0~git20261126.abc1234  (no tag yet: before any release)
//	v1.2.3              1.2.3
//	v1.2.3-rc.1         1.2.3~rc.1               (before 1.2.3)
//	v1.2.3-4-gabc1234   1.2.3+git20261126.4.abc1234  (after 1.2.3, before 1.2.4)
//
// A -dirty tree adds +dirty, so it sorts after its commit.
func Version(describe string, commit time.Time) (string, error) {
	date := commit.UTC().Format("20060102")
	var v string
	if m := hashRE.FindStringSubmatch(describe); m != nil {
		v = "0.0~git" + date + "." + m[1]
		if m[2] != "" {
			v += "+dirty"
		}
	} else if m := describeRE.FindStringSubmatch(describe); m != nil {
		t := tagRE.FindStringSubmatch(m[1])
		if t == nil {
			return "", fmt.Errorf("debian: version from git describe %q: tag %q is not a release tag such as v1.2.3 or v1.2.3-rc.1", describe, m[1])
		}
		v = t[1]
		if t[2] != "" {
			// A pre-release sorts before its release, as ~ does in Debian.
			v += "~" + t[2]
		}
		if m[2] != "" {
			v += "+git" + date + "." + m[2] + "." + m[3]
		}
		if m[4] != "" {
			v += "+dirty"
		}
	} else {
		return "", fmt.Errorf("debian: version from git describe %q: not git describe output", describe)
	}
	if err := ValidateVersion(v); err != nil {
		return "", fmt.Errorf("debian: version from git describe %q: %w", describe, err)
	}
	return v, nil
}

// ValidateVersion checks v against Debian Policy 5.6.12, which dpkg-deb
// enforces only in part.
func ValidateVersion(v string) error {
	rest := v
	if i := strings.IndexByte(rest, ':'); i >= 0 {
		if !epochRE.MatchString(rest[:i]) {
			return fmt.Errorf("debian: version %q: epoch %q is not a number", v, rest[:i])
		}
		rest = rest[i+1:]
	}
	upstream := rest
	if i := strings.LastIndexByte(rest, '-'); i >= 0 {
		upstream = rest[:i]
		if rev := rest[i+1:]; !revisionRE.MatchString(rev) {
			return fmt.Errorf("debian: version %q: revision %q may hold only letters, digits and . + ~", v, rev)
		}
	}
	if !upstreamRE.MatchString(upstream) {
		return fmt.Errorf("debian: version %q: upstream version %q must start with a digit and hold only letters, digits and . + ~ -", v, upstream)
	}
	return nil
}
