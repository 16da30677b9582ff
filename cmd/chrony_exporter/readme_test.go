package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/second-hand/chrony_exporter/collector"
)

// TestReadmeFlags keeps the README's flags table and the binary's --help in
// step: every flag in the table exists, and every flag of --help is in the
// table (the per-collector flags through the --[no-]collector.<name> row,
// whose names must all be listed).
func TestReadmeFlags(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(exporterBin, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("--help: %v\n%s", err, out)
	}
	flagRe := regexp.MustCompile(`--(?:\[no-\])?([a-z][a-z0-9.-]*)`)
	var help = map[string]bool{}
	for _, m := range flagRe.FindAllStringSubmatch(string(out), -1) {
		help[m[1]] = true
	}
	table := map[string]bool{}
	// The first cell of each row, e.g. "`--log.level`, `--log.format`".
	rows := regexp.MustCompile("(?m)^\\| (`[^|]*)\\|")
	for _, m := range rows.FindAllStringSubmatch(string(readme), -1) {
		for _, f := range flagRe.FindAllStringSubmatch(m[1], -1) {
			table[f[1]] = true
		}
	}
	// The row --[no-]collector.<name> stands for every collector's flag.
	const collectorPlaceholder = "collector."
	if !table[collectorPlaceholder] {
		t.Error("README has no --[no-]collector.<name> row")
	}
	collectorRow := regexp.MustCompile("(?m)^\\| `--\\[no-\\]collector\\.<name>` \\|.*$").FindString(string(readme))
	for name := range help {
		switch {
		case name == "help" || name == "version" || name == "help-long" || name == "help-man" || name == "completion-bash" || name == "completion-script-bash" || name == "completion-script-zsh":
		case strings.HasPrefix(name, "collector.") && collectorName(name):
			if !strings.Contains(collectorRow, "`"+strings.TrimPrefix(name, "collector.")+"`") {
				t.Errorf("README's collector row does not name %s", name)
			}
		case !table[name]:
			t.Errorf("--%s is in --help but not in README's flags table", name)
		}
	}
	for name := range table {
		if name != collectorPlaceholder && !help[name] {
			t.Errorf("README's flags table has --%s, which --help does not know", name)
		}
	}
	// The metrics link points at the generated reference.
	if !strings.Contains(string(readme), "(docs/metrics.md)") {
		t.Error("README does not link docs/metrics.md")
	}
	ref, err := os.ReadFile(filepath.Join("..", "..", "docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile("`(chrony_[a-z_]+)`").FindAllStringSubmatch(string(readme), -1) {
		if !strings.Contains(string(ref), "`"+m[1]) && !strings.HasSuffix(m[1], "_") {
			t.Errorf("README names %s, which docs/metrics.md does not list", m[1])
		}
	}
}

// readmeMaxBytes keeps README.md a user's guide: reference and benchmarks
// live in docs/.
const readmeMaxBytes = 10 * 1024

// TestReadmeSize holds README.md under readmeMaxBytes.
func TestReadmeSize(t *testing.T) {
	fi, err := os.Stat(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() >= readmeMaxBytes {
		t.Errorf("README.md is %d bytes, want under %d: move reference material to docs/", fi.Size(), readmeMaxBytes)
	}
}

func collectorName(flag string) bool {
	for _, n := range collector.Names() {
		if flag == "collector."+n {
			return true
		}
	}
	return false
}

// TestChangelogFormat holds CHANGELOG.md to the Prometheus projects' form:
// "## X.Y.Z / YYYY-MM-DD" headings and one line per entry, each with its
// kind.
func TestChangelogFormat(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "CHANGELOG.md"))
	if err != nil {
		t.Fatal(err)
	}
	heading := regexp.MustCompile(`^## \d+\.\d+\.\d+ / \d{4}-\d{2}-\d{2}$`)
	entry := regexp.MustCompile(`^\* \[(FEATURE|ENHANCEMENT|BUGFIX|CHANGE|SECURITY)\] \S`)
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		switch {
		case line == "", i == 0 && line == "# Changelog", heading.MatchString(line), entry.MatchString(line):
		default:
			t.Errorf("CHANGELOG.md:%d is neither a version heading nor a one-line entry: %q", i+1, line)
		}
	}
}
