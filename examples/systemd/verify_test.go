//go:build integration

package systemd_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/second-hand/chrony_exporter/examples/systemd"
)

// TestUnitVerify runs systemd-analyze verify on the unit, with ExecStart
// pointed at an executable that exists. It fails when systemd-analyze is
// missing: make test installs it.
func TestUnitVerify(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Fatal("systemd-analyze is not installed: apt-get install -y systemd")
	}
	b, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(b), unitBinary, self)
	unit := filepath.Join(t.TempDir(), unitFile)
	if err := os.WriteFile(unit, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := systemd.Verify(unit); err != nil {
		t.Error(err)
	}
}
