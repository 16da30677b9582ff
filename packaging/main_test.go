//go:build integration

package packaging

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// The package tests build with the Makefile, so that they test what
// `make package` and `make release` ship, into a directory of their own:
// a developer's .packages and .tarballs stay untouched.
var (
	workDir  string
	repoRoot = ".."

	buildsMu sync.Mutex
	builds   = map[string]*buildOnce{} // by make target
)

// buildOnce is one make target's run, shared by the tests that need it.
type buildOnce struct {
	once sync.Once
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "chrony-exporter-packaging-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	workDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// makeOnce runs `make target vars...` once per target for the whole test
// binary, with its output and build directories under workDir, and returns
// the output directory. dirVar names the Makefile variable of the output
// directory (PACKAGE_DIR, RELEASE_DIR).
func makeOnce(t *testing.T, target, dirVar string, vars ...string) string {
	t.Helper()
	buildsMu.Lock()
	b := builds[target]
	if b == nil {
		b = &buildOnce{}
		builds[target] = b
	}
	buildsMu.Unlock()
	b.once.Do(func() {
		b.dir = filepath.Join(workDir, target)
		args := append([]string{"-C", repoRoot, target,
			dirVar + "=" + b.dir,
			"BUILD_DIR=" + filepath.Join(workDir, target+"-build")}, vars...)
		var out bytes.Buffer
		cmd := exec.Command("make", args...)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			b.err = fmt.Errorf("make %v: %v\n%s", args, err, out.String())
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.dir
}

// need fails the test when a tool is missing: `make test-deps` installs
// every one of them.
func need(t *testing.T, cmds ...string) {
	t.Helper()
	for _, c := range cmds {
		if _, err := exec.LookPath(c); err != nil {
			t.Fatalf("%s is missing; `make test-deps` installs it (as root on Debian): %v", c, err)
		}
	}
}

// run runs a command and returns its combined output, failing the test when
// it fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}
