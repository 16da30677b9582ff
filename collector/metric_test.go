package collector

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryMetricInAGolden: every metric but the scrape duration, which
// varies, appears in some golden exposition (testdata/*.prom), so none
// goes without a test of its name, type, labels and values.
func TestEveryMetricInAGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.prom"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	typed := map[string]string{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			if fields := strings.Fields(sc.Text()); len(fields) == 4 && fields[0] == "#" && fields[1] == "TYPE" {
				typed[fields[2]] = fields[3]
			}
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range metrics {
		if m == durationMetric {
			continue
		}
		switch kind, ok := typed[m.name]; {
		case !ok:
			t.Errorf("%s (collector %q) is in no golden file", m.name, m.collector)
		case kind != m.kind.String():
			t.Errorf("%s is a %s, but a golden file has it as a %s", m.name, m.kind, kind)
		}
	}
}
