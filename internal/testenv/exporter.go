package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// ExporterEnv names the environment variable that hands the tests an
// exporter binary built beforehand, by its absolute path: `make test` builds one for the whole
// run with the buildexporter command, so that no package builds its own.
const ExporterEnv = "CHRONY_EXPORTER_TEST_BINARY"

// modulePath is the module whose root BuildExporter builds from.
const modulePath = "github.com/second-hand/chrony_exporter"

// versionPkg holds the version variables, as in the Makefile's LDFLAGS.
const versionPkg = "github.com/prometheus/common/version"

// moduleRoot returns the directory of the module's go.mod, found from the
// working directory up: tests run in their package's directory, make in
// the root.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(b), "module "+modulePath+"\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of %s above the working directory", modulePath)
		}
		dir = parent
	}
}

// ExporterVersion is the version test builds of the exporter report:
// VERSION's with "-test", so that a test can tell it ran the binary it
// meant to.
func ExporterVersion() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	v, err := os.ReadFile(filepath.Join(root, "VERSION"))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(v)) + "-test", nil
}

// BuildExporter builds ./cmd/chrony_exporter at path as `make build` does
// but with ExporterVersion, with the race detector when race is set, and
// with further ldflags (-X …) when given.
func BuildExporter(path string, race bool, ldflags ...string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	version, err := ExporterVersion()
	if err != nil {
		return err
	}
	// go test puts its own go first in PATH; make runs with $(GO)'s.
	goTool, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("the go command is needed to build the exporter: %w", err)
	}
	args := []string{"build", "-o", path,
		"-ldflags", strings.Join(append([]string{"-X " + versionPkg + ".Version=" + version}, ldflags...), " ")}
	if race {
		args = append(args, "-race")
	}
	cmd := exec.Command(goTool, append(args, "./cmd/chrony_exporter")...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building chrony_exporter (race %v): %v\n%s", race, err, out)
	}
	return nil
}

// built is the binary and directory this process built, if it did.
var built struct {
	once   sync.Once
	dir    string
	dirErr error

	binOnce sync.Once
	bin     string
	binErr  error
}

// BuildDir returns a directory, made on the first call, for binaries the
// tests build; every user may read it, since tests run the exporter as
// other identities too. Cleanup removes it.
func BuildDir() (string, error) {
	built.once.Do(func() {
		built.dir, built.dirErr = os.MkdirTemp("", "chrony_exporter-test-")
		if built.dirErr == nil {
			built.dirErr = os.Chmod(built.dir, 0o755)
		}
	})
	return built.dir, built.dirErr
}

// Exporter returns the exporter binary the tests share: the one
// ExporterEnv names, or else one the first call builds in BuildDir, with
// the race detector when the tests have it (Race).
func Exporter() (string, error) {
	if path := os.Getenv(ExporterEnv); path != "" {
		// Each package's tests run in its own directory.
		if !filepath.IsAbs(path) {
			return "", fmt.Errorf("%s=%s: want an absolute path", ExporterEnv, path)
		}
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("%s: %w", ExporterEnv, err)
		}
		return path, nil
	}
	built.binOnce.Do(func() {
		dir, err := BuildDir()
		if err != nil {
			built.binErr = err
			return
		}
		built.bin = filepath.Join(dir, "chrony_exporter")
		built.binErr = BuildExporter(built.bin, Race)
	})
	return built.bin, built.binErr
}

// Cleanup removes what this process built; a TestMain calls it after
// the tests.
func Cleanup() {
	if built.dir != "" {
		if err := os.RemoveAll(built.dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintln(os.Stderr, "testenv:", err)
		}
	}
}
