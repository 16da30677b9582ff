//go:build integration

package rules_test

import (
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/second-hand/chrony_exporter/internal/testenv"
)

func promtool(t *testing.T, args ...string) string {
	t.Helper()
	path := testenv.Tool(t, "promtool", "prometheus")
	out, err := exec.Command(path, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestPromtoolCheck is `promtool check rules`.
func TestPromtoolCheck(t *testing.T) {
	out := promtool(t, "check", "rules", rulesFile)
	m := regexp.MustCompile(`SUCCESS: (\d+) rules found`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("promtool check rules did not report success:\n%s", out)
	}
	rules := loadRules(t)
	if n, _ := strconv.Atoi(m[1]); n != len(rules) {
		t.Errorf("promtool found %s rules, this test reads %d: the YAML reader below misses some", m[1], len(rules))
	}
}

// TestPromtoolUnitTests is `promtool test rules`.
func TestPromtoolUnitTests(t *testing.T) {
	out := promtool(t, "test", "rules", rulesTest)
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool test rules:\n%s", out)
	}
}
