//go:build integration

package collector_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/second-hand/chrony_exporter/internal/testenv"
)

// TestGoldensPassPromtool: every golden exposition, which is what /metrics
// serves (servedGolden holds each to the served bytes), passes promtool
// check metrics, Prometheus's own parser and linter: names, units, the
// _total of counters, HELP and TYPE. A control exposition that breaks a
// rule shows that promtool does check.
func TestGoldensPassPromtool(t *testing.T) {
	promtool := testenv.Tool(t, "promtool", "prometheus")
	check := func(text []byte) (string, error) {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(text)
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}

	bad := "# HELP chrony_broken A counter without _total.\n# TYPE chrony_broken counter\nchrony_broken 1\n"
	if out, err := check([]byte(bad)); err == nil {
		t.Fatalf("promtool check metrics passed a counter without _total (%q): it checks nothing", out)
	}

	files, err := filepath.Glob(filepath.Join("testdata", "*.prom"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".prom"), func(t *testing.T) {
			t.Parallel()
			text, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if out, err := check(text); err != nil || out != "" {
				t.Errorf("promtool check metrics %s: %v\n%s", path, err, out)
			}
		})
	}
}
