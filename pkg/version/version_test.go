package version

import (
	"os"
	"os/exec"
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	for _, c := range []struct {
		main string
		ok   bool
		want string
	}{
		{"v1.2.3", true, "v1.2.3"},
		{"v0.0.0-20261123151436-10525ff1a2b3+dirty", true, "v0.0.0-20261123151436-10525ff1a2b3+dirty"},
		{"(devel)", true, "dev"},
		{"", true, "dev"},
		{"v", true, "dev"},
		{"v1.2.3", false, "dev"},
	} {
		bi := &debug.BuildInfo{Main: debug.Module{Path: "github.com/logbookdb/logbook/services/storenode", Version: c.main}}
		if got := fromBuildInfo(bi, c.ok); got != c.want {
			t.Errorf("main module version %q (ok %v): %q, want %q", c.main, c.ok, got, c.want)
		}
	}
	if got := fromBuildInfo(nil, false); got != "dev" {
		t.Errorf("no build info: %q, want dev", got)
	}
}

func TestSemVer(t *testing.T) {
	for v, want := range map[string]string{
		"v1.2.3":             "1.2.3",
		"1.2.3":              "1.2.3",
		"v1.2.3-rc.1+build5": "1.2.3-rc.1+build5",
		"v1.2.3-4-gabc1234":  "1.2.3-4-gabc1234", // git describe after a tag
		"v0.0.0-20261123151436-10525ff1a2b3+dirty": "0.0.0-20261123151436-10525ff1a2b3+dirty",
		"dev":           "0.0.0-dev",
		"10525ff-dirty": "0.0.0-10525ff-dirty", // git describe --always --dirty
		"feature/x y":   "0.0.0-feature-x-y",
		"0123":          "0.0.0-dev", // a numeric pre-release may not start with 0
		"":              "0.0.0-dev",
	} {
		got := semVerOf(v)
		if got != want {
			t.Errorf("semVerOf(%q) = %q, want %q", v, got, want)
		}
		if !semVer.MatchString(got) {
			t.Errorf("semVerOf(%q) = %q is not a semantic version", v, got)
		}
	}
}

// The version given at link time wins over the build information: the test
// binary is built again with -X and checks what it sees.
func TestVersionSetAtLinkTime(t *testing.T) {
	if want := os.Getenv("LOGBOOK_VERSION_WANT"); want != "" {
		if Version != want {
			t.Fatalf("Version = %q, want %q from -ldflags -X", Version, want)
		}
		return
	}
	if Version == "" {
		t.Fatal("Version is empty")
	}
	if testing.Short() {
		t.Skip("builds the test binary again")
	}
	cmd := exec.Command("go", "test", "-count=1", "-run", "^TestVersionSetAtLinkTime$",
		"-ldflags", "-X github.com/logbookdb/logbook/pkg/version.Version=v9.8.7", ".")
	cmd.Env = append(os.Environ(), "LOGBOOK_VERSION_WANT=v9.8.7")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go test with -X: %v\n%s", err, out)
	}
}
