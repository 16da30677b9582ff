package docker_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestREADMEContainer checks that the README's container commands run the
// exporter as chronyd's user, with chronyd's socket directory mounted.
func TestREADMEContainer(t *testing.T) {
	readme := readFile(t, filepath.Join(repoRoot(t), "README.md"))
	_, section, ok := strings.Cut(readme, "\n## Container\n")
	if !ok {
		t.Fatal("README.md has no Container section")
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	block := regexp.MustCompile("(?s)```(?:sh|bash|console)?\n(.*?)```")
	runs := 0
	for _, b := range block.FindAllStringSubmatch(section, -1) {
		for _, cmd := range strings.Split(strings.ReplaceAll(b[1], "\\\n", " "), "\n") {
			if !strings.Contains(cmd, "docker run") {
				continue
			}
			runs++
			if !regexp.MustCompile(`--user[ =]"?\$\(id -u _?chrony\):\$\(id -g _?chrony\)"?`).MatchString(cmd) {
				t.Errorf("README: %q does not run as chronyd's user (--user \"$(id -u _chrony):$(id -g _chrony)\")", cmd)
			}
			if !strings.Contains(cmd, "-v /run/chrony:/run/chrony") {
				t.Errorf("README: %q does not mount /run/chrony", cmd)
			}
			if strings.Contains(cmd, "--group-add") {
				t.Errorf("README: %q adds a group; chronyd's group cannot use its socket", cmd)
			}
		}
	}
	if runs == 0 {
		t.Error("README's Container section has no docker run command")
	}
}
