//go:build integration

package grafana_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/second-hand/chrony_exporter/internal/testenv"
)

// TestDashboardPromtool has promtool parse every query, with the variables
// replaced as Grafana would, as the expression of a recording rule: the
// lint parses them with Prometheus's Go parser, this with the promtool
// that operators run.
func TestDashboardPromtool(t *testing.T) {
	d, _ := loadDashboard(t)
	promtool := testenv.Tool(t, "promtool", "prometheus")
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	n := 0
	for _, p := range panelsByRow(d) {
		for _, tg := range p.Targets {
			expr := substitute(tg.Expr, "chrony", `127\\.0\\.0\\.1:9123`, "1m")
			js, _ := json.Marshal(expr) // a JSON string is a YAML string
			fmt.Fprintf(&b, "      - record: dashboard_panel_%d_%s\n        expr: %s\n", p.ID, tg.RefID, js)
			n++
		}
	}
	file := filepath.Join(t.TempDir(), "dashboard.rules.yml")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool cannot parse the dashboard's queries: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), fmt.Sprintf("SUCCESS: %d rules found", n)) {
		t.Errorf("promtool checked something else than the %d queries:\n%s", n, out)
	}
}
