//go:build integration

package mixin

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/second-hand/chrony_exporter/internal/testenv"
)

// TestPromtoolCustomSelector renders the rules for a job named ntp and runs
// rules/chrony.rules.test.yml on them with its series moved to that job:
// every alert fires and stays quiet as with the default selector. Series of
// the default job are added beside them, which must fire nothing more.
func TestPromtoolCustomSelector(t *testing.T) {
	promtool := testenv.Tool(t, "promtool", "prometheus")
	r := render(t, `{chronySelector: 'job="ntp"'}`)
	src, err := os.ReadFile(filepath.Join("..", "rules", "chrony.rules.test.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	moved, pending := 0, ""
	for _, line := range strings.SplitAfter(string(src), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "- series:") && strings.Contains(line, `job="chrony"`):
			pending = line
		case pending != "" && strings.HasPrefix(trimmed, "values:"):
			// The series stays in job chrony, which these rules ignore,
			// and is repeated in job ntp.
			out.WriteString(pending + line)
			line = strings.Replace(pending, `job="chrony"`, `job="ntp"`, 1) + line
			pending = ""
			moved++
		case strings.HasPrefix(trimmed, "- labels:") || strings.HasPrefix(trimmed, "labels:"):
			line = strings.Replace(line, `job="chrony"`, `job="ntp"`, 1)
		case trimmed == "job: chrony":
			line = strings.Replace(line, "job: chrony", "job: ntp", 1)
		case strings.Contains(line, "of job chrony ("): // ChronyExporterDown's description
			line = strings.Replace(line, "of job chrony (", "of job ntp (", 1)
		}
		if pending == "" {
			out.WriteString(line)
		}
	}
	if moved == 0 {
		t.Fatal("no series of job chrony found in chrony.rules.test.yml")
	}
	dir := t.TempDir()
	for name, data := range map[string]string{
		"chrony.rules.yml":      string(r.Rules),
		"chrony.rules.test.yml": out.String(),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(promtool, "test", "rules", "chrony.rules.test.yml")
	cmd.Dir = dir
	got, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(got), "SUCCESS") {
		t.Fatalf("promtool test rules on the rules for job ntp: %v\n%s", err, got)
	}
}
