package testenv

import (
	"os/exec"
	"testing"
)

// Tool returns the path of an installed command an integration test needs,
// and fails the test, never skips it, when the command is missing, saying
// which Debian package brings it (make test installs them).
func Tool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is missing; install it with: apt-get install -y %s (make test-deps does)", name, debianPackage)
	}
	return path
}
