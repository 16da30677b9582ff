package systemd_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const (
	unitFile    = "chrony_exporter.service"
	defaultFile = "chrony_exporter.default"
	// Where the unit expects the binary; the verify test points it at an
	// executable that exists here.
	unitBinary = "/usr/local/bin/chrony_exporter"
)

type entry struct {
	section, key, value string
	line                int
}

// parseUnit reads a unit file the way systemd does for our purposes:
// comments, blank lines, [Section] headers and Key=Value lines, nothing
// else.
func parseUnit(t *testing.T, path string) []entry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var es []entry
	section := ""
	keyRE := regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)
	s := bufio.NewScanner(f)
	for n := 1; s.Scan(); n++ {
		line := strings.TrimSpace(s.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			if section != "Unit" && section != "Service" && section != "Install" {
				t.Errorf("%s:%d: unexpected section [%s]", path, n, section)
			}
		default:
			k, v, ok := strings.Cut(line, "=")
			k = strings.TrimSpace(k)
			if !ok || !keyRE.MatchString(k) {
				t.Errorf("%s:%d: not Key=Value: %q", path, n, line)
				continue
			}
			if section == "" {
				t.Errorf("%s:%d: %s outside a section", path, n, k)
			}
			if strings.HasSuffix(v, `\`) {
				t.Errorf("%s:%d: continuation lines are not expected", path, n)
			}
			es = append(es, entry{section, k, strings.TrimSpace(v), n})
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return es
}

// TestUnitKeys checks the unit's structure and the settings its comments
// promise, whether or not systemd is installed here.
func TestUnitKeys(t *testing.T) {
	es := parseUnit(t, unitFile)
	got := map[string][]string{}
	for _, e := range es {
		got[e.section+"."+e.key] = append(got[e.section+"."+e.key], e.value)
	}
	// What the unit's comments and the README promise.
	want := map[string]string{
		"Unit.Description":                "",
		"Service.ExecStart":               unitBinary + " $ARGS",
		"Service.EnvironmentFile":         "-/etc/default/chrony_exporter",
		"Service.DynamicUser":             "yes",
		"Service.SupplementaryGroups":     "_chrony",
		"Service.ReadWritePaths":          "/run/chrony",
		"Service.ProtectSystem":           "strict",
		"Service.ProtectHome":             "yes",
		"Service.PrivateTmp":              "yes",
		"Service.NoNewPrivileges":         "yes",
		"Service.RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
		"Service.CapabilityBoundingSet":   "",
		"Service.SystemCallErrorNumber":   "EPERM",
		"Install.WantedBy":                "multi-user.target",
	}
	for k, v := range want {
		vs, ok := got[k]
		if !ok {
			t.Errorf("%s: no %s=", unitFile, k)
			continue
		}
		if k == "Unit.Description" {
			if vs[0] == "" {
				t.Errorf("%s: empty Description=", unitFile)
			}
			continue
		}
		if vs[0] != v {
			t.Errorf("%s: %s=%s, want %s", unitFile, k, vs[0], v)
		}
	}
	for k, vs := range got {
		if len(vs) > 1 && k != "Service.SystemCallFilter" {
			t.Errorf("%s: %s set %d times", unitFile, k, len(vs))
		}
	}
}

// TestDefaultFile checks that the environment file sets ARGS to flags the
// exporter accepts.
func TestDefaultFile(t *testing.T) {
	b, err := os.ReadFile(defaultFile)
	if err != nil {
		t.Fatal(err)
	}
	var args string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k != "ARGS" {
			t.Errorf("%s: unexpected line %q: only ARGS=\"...\" is read", defaultFile, line)
			continue
		}
		if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			t.Errorf("%s: ARGS must be quoted: %q", defaultFile, v)
			continue
		}
		args = v[1 : len(v)-1]
	}
	if args == "" {
		t.Fatalf("%s sets no ARGS", defaultFile)
	}
	help := exporterHelp(t)
	for _, a := range strings.Fields(args) {
		name, _, _ := strings.Cut(a, "=")
		if !strings.HasPrefix(name, "--") || !strings.Contains(help, name) {
			t.Errorf("%s: %s is not a flag of chrony_exporter --help", defaultFile, name)
		}
	}
}

// exporterHelp builds the exporter and returns its --help text.
func exporterHelp(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "chrony_exporter")
	build := exec.Command("go", "build", "-o", bin, "./cmd/chrony_exporter")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/chrony_exporter: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("chrony_exporter --help: %v\n%s", err, out)
	}
	return string(out)
}

// TestUnitVerify runs systemd-analyze verify on the unit, when systemd is
// installed here, with ExecStart pointed at an executable that exists. Any
// message fails: verify warns about unknown keys but still exits 0.
func TestUnitVerify(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed; TestUnitKeys checks the unit instead")
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
	out, err := exec.Command(sa, "verify", unit).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) != 0 {
		t.Errorf("systemd-analyze verify %s: %v\n%s", unitFile, err, out)
	}
}
