package debian_test

import (
	"os/exec"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/deploy/debian"
	"github.com/rackwatch/rackwatch/deploy/testrig"
)

var commit = time.Date(2026, 11, 26, 23, 30, 0, 0, time.FixedZone("CET", 3600))

func TestVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		describe, want string
	}{
		// The date is the commit's in UTC, not in the committer's zone.
		{"7f04227", "0.0~git20261126.7f04227"},
		{"7f04227-dirty", "0.0~git20261126.7f04227+dirty"},
		{"v1.2.3", "1.2.3"},
		{"1.2", "1.2"},
		{"v1.2.3-dirty", "1.2.3+dirty"},
		{"v1.2.3-rc.1", "1.2.3~rc.1"},
		{"v1.2.3-4-gabc1234", "1.2.3+git20261126.4.abc1234"},
		{"v1.2.3-rc.1-12-gabc1234def-dirty", "1.2.3~rc.1+git20261126.12.abc1234def+dirty"},
		// Short and numeric: a tag, not an abbreviated hash.
		{"2024", "2024"},
	} {
		got, err := debian.Version(tc.describe, commit)
		if err != nil || got != tc.want {
			t.Errorf("Version(%q) = %q, %v; want %q", tc.describe, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "dev", "release-1", "v1.2_3", "v1.2.3-rc_1", "v1.2.3-4-gabc1234-extra"} {
		if got, err := debian.Version(bad, commit); err == nil {
			t.Errorf("Version(%q) = %q, want an error", bad, got)
		}
	}
}

var versionCases = []struct {
	v     string
	valid bool
}{
	{"1.2.3", true},
	{"0.0~git20261126.7f04227+dirty", true},
	{"1:1.2-3", true},
	{"1.2-3-4", true}, // the last hyphen starts the revision
	{"1.2-0ubuntu1~22.04", true},
	{"", false},
	{"v1.2", false},
	{"1.2_3", false},
	{"1.2 3", false},
	{"a:1.2", false},
	{"1:", false},
	{"1.2-", false},
	{"1.2-3_4", false},
	{"1.2:3", false},
}

func TestValidateVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range versionCases {
		if err := debian.ValidateVersion(tc.v); (err == nil) != tc.valid {
			t.Errorf("ValidateVersion(%q) = %v, want valid %v", tc.v, err, tc.valid)
		}
	}
}

// TestVersionAgreesWithDpkg checks the validation and the mapping against
// dpkg's own parser and ordering.
func TestVersionAgreesWithDpkg(t *testing.T) {
	t.Parallel()
	dpkg := testrig.Require(t, "dpkg", "dpkg")
	for _, tc := range versionCases {
		err := exec.Command(dpkg, "--validate-version", "--", tc.v).Run()
		if (err == nil) != tc.valid {
			t.Errorf("dpkg --validate-version %q: %v, want valid %v", tc.v, err, tc.valid)
		}
	}
	// Builds in the order they are made, from before the first tag to the
	// next release.
	order := []string{
		"7f04227",
		"7f04227-dirty",
		"v0.1.0-rc.1",
		"v0.1.0-rc.1-2-gabc1234",
		"v0.1.0",
		"v0.1.0-dirty",
		"v0.1.0-3-gdef5678",
		"v0.1.0-12-g0123456",
		"v0.1.1",
	}
	prev := ""
	for _, d := range order {
		v, err := debian.Version(d, commit)
		if err != nil {
			t.Fatal(err)
		}
		if prev != "" {
			if err := exec.Command(dpkg, "--compare-versions", prev, "lt", v).Run(); err != nil {
				t.Errorf("dpkg does not sort %s before %s (%v)", prev, v, err)
			}
		}
		prev = v
	}
}

func TestPackageUnit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, unit string
		ok         bool
	}{
		{"shipped form", "[Service]\nExecStart=/usr/local/bin/rackwatch-edge run\n", true},
		{"no ExecStart from /usr/local/bin", "[Service]\nExecStart=/opt/rackwatch-edge run\n", false},
		{"twice", "ExecStart=/usr/local/bin/rackwatch-edge run\nExecStart=/usr/local/bin/rackwatch-edge run\n", false},
		{"another /usr/local path", "ExecStart=/usr/local/bin/rackwatch-edge run\nExecStartPre=/usr/local/bin/x\n", false},
	} {
		got, err := debian.PackageUnit([]byte(tc.unit))
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok %v", tc.name, err, tc.ok)
		}
		if tc.ok && string(got) != "[Service]\nExecStart=/usr/bin/rackwatch-edge run\n" {
			t.Errorf("%s: got %q", tc.name, got)
		}
	}
}
