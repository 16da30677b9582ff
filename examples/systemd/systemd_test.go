package systemd_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/second-hand/chrony_exporter/collector"
	"github.com/second-hand/chrony_exporter/examples/systemd"
)

const (
	unitFile    = "chrony_exporter.service"
	defaultFile = "chrony_exporter.default"
	// Where the unit expects the binary; the verify test points it at an
	// executable that exists here.
	unitBinary = "/usr/local/bin/chrony_exporter"
)

// readUnit parses the example unit, failing the test on anything the
// parser does not accept.
func readUnit(t *testing.T) systemd.Unit {
	t.Helper()
	u, err := systemd.ParseFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestUnitKeys checks the unit's structure and the settings its comments
// promise, whether or not systemd is installed here.
func TestUnitKeys(t *testing.T) {
	u := readUnit(t)
	// What the unit's comments and the README promise.
	want := map[string]string{
		"Unit.Description":        "",
		"Service.ExecStart":       unitBinary + " $ARGS",
		"Service.EnvironmentFile": "-/etc/default/chrony_exporter",
		// chronyd's socket directory is 0750 and its socket 0755, so
		// only its own user (or root) can use them; make package
		// rewrites both to chrony for the rpm.
		"Service.User":                    "_chrony",
		"Service.Group":                   "_chrony",
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
		got, ok := u.Value(k)
		switch {
		case !ok:
			t.Errorf("%s: %s= missing or set %d times", unitFile, k, len(u.Values(k)))
		case k == "Unit.Description":
			if got == "" {
				t.Errorf("%s: empty Description=", unitFile)
			}
		case got != v:
			t.Errorf("%s: %s=%s, want %s", unitFile, k, got, v)
		}
	}
	// Settings that break the unit now that it runs as chronyd's user.
	for k, why := range map[string]string{
		"Service.DynamicUser":         "a dynamic user cannot use chronyd's socket (0755 in a 0750 directory)",
		"Service.SupplementaryGroups": "chronyd's group has no write permission on its socket",
		"Service.RemoveIPC":           "it would remove chronyd's IPC objects whenever the exporter stops",
	} {
		if vs := u.Values(k); len(vs) != 0 {
			t.Errorf("%s: %s=%s set, but %s", unitFile, k, vs[0], why)
		}
	}
	seen := map[string]int{}
	for _, e := range u {
		seen[e.Section+"."+e.Key]++
	}
	for k, n := range seen {
		if n > 1 && k != "Service.SystemCallFilter" {
			t.Errorf("%s: %s set %d times", unitFile, k, n)
		}
	}
}

// TestUnitCommentUDP checks that the alternative the header documents, UDP
// without a shared identity, names the address form the exporter takes and
// exactly the collectors that work over UDP.
func TestUnitCommentUDP(t *testing.T) {
	b, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	var comment []string
	for _, line := range strings.Split(string(b), "\n") {
		if text, ok := strings.CutPrefix(line, "#"); ok {
			comment = append(comment, strings.TrimSpace(text))
		}
	}
	text := strings.Join(comment, " ")
	if !strings.Contains(text, `ARGS="--chrony.address=udp://127.0.0.1:323"`) {
		t.Errorf("%s: the header does not show ARGS=\"--chrony.address=udp://127.0.0.1:323\"", unitFile)
	}
	m := regexp.MustCompile(`monitoring reports: ([a-z, ]+)\.`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("%s: the header does not list the monitoring reports (\"monitoring reports: a, b and c.\")", unitFile)
	}
	var listed []string
	for _, part := range strings.Split(strings.ReplaceAll(m[1], " and ", ", "), ",") {
		if part = strings.TrimSpace(part); part != "" {
			listed = append(listed, part)
		}
	}
	var overUDP []string
	for _, name := range collector.Names() {
		if !collector.UnixOnly(name) {
			overUDP = append(overUDP, name)
		}
	}
	slices.Sort(listed)
	if !slices.Equal(listed, overUDP) {
		t.Errorf("%s: the header lists %v over UDP, the collectors that work over UDP are %v", unitFile, listed, overUDP)
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
