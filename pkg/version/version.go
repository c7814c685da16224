// Package version is the version of Logbook a binary was built as. The
// storenode reports it in its heartbeats and the cluster view, the gateway
// in the NATS service info ($SRV.INFO), and clients may report it too.
package version

import (
	"regexp"
	"runtime/debug"
	"strings"
)

// Version is the version of this build. Release builds set it at link time:
//
//	go build -ldflags "-X github.com/logbookdb/logbook/pkg/version.Version=v1.2.3"
//
// Left unset, it is the main module's version from the build information
// when that is a real version (a module built at a tag or a commit, as
// `go install ...@v1.2.3` does), and "dev" otherwise.
var Version string

func init() {
	if Version == "" {
		bi, ok := debug.ReadBuildInfo()
		Version = fromBuildInfo(bi, ok)
	}
}

// fromBuildInfo is the main module's version, or "dev" when the build
// information has none: a build from a source tree says "(devel)".
func fromBuildInfo(bi *debug.BuildInfo, ok bool) string {
	if !ok || bi == nil || !isModuleVersion(bi.Main.Version) {
		return "dev"
	}
	return bi.Main.Version
}

// isModuleVersion reports whether v looks like a module version: "v", then
// a digit (v1.2.3, v0.0.0-20260101000000-abcdef012345, v1.2.3+dirty).
func isModuleVersion(v string) bool {
	return len(v) > 1 && v[0] == 'v' && v[1] >= '0' && v[1] <= '9'
}

// semVer is the pattern of Semantic Versioning 2.0.0 (semver.org), which the
// NATS service API requires of a service's version.
var semVer = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
	`(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?` +
	`(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

// SemVer is Version as a semantic version: without the leading "v"; a
// version that is not one ("dev", a commit hash from `git describe
// --always`) becomes a pre-release of 0.0.0, as in "0.0.0-dev".
func SemVer() string { return semVerOf(Version) }

func semVerOf(v string) string {
	if s := strings.TrimPrefix(v, "v"); semVer.MatchString(s) {
		return s
	}
	pre := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' {
			return r
		}
		return '-'
	}, v)
	if s := "0.0.0-" + pre; semVer.MatchString(s) {
		return s
	}
	return "0.0.0-dev"
}
