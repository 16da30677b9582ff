// Command render writes grafana/dashboards/chrony.json and
// rules/chrony.rules.yml from the monitoring mixin with its default
// _config. `make mixin` runs it from the repository's root.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/second-hand/chrony_exporter/mixin"
)

func main() {
	root := flag.String("root", ".", "the repository's root directory")
	flag.Parse()
	if err := run(*root); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}

func run(root string) error {
	r, err := mixin.Render("")
	if err != nil {
		return err
	}
	dashboard, ok := r.Dashboards[filepath.Base(mixin.DashboardFile)]
	if !ok || len(r.Dashboards) != 1 {
		return fmt.Errorf("the mixin renders dashboards %v, want only %s", keys(r.Dashboards), filepath.Base(mixin.DashboardFile))
	}
	for file, data := range map[string][]byte{mixin.DashboardFile: dashboard, mixin.RulesFile: r.Rules} {
		if err := os.WriteFile(filepath.Join(root, file), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
