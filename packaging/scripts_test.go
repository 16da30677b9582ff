//go:build integration

package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestMaintainerScripts runs each maintainer script as dpkg and rpm call it,
// with and without a running systemd, and checks the systemctl calls it
// makes. A fake systemctl records them; "a running systemd" is the
// directory /run/systemd/system on a private /run (a tmpfs in a mount
// namespace of the script's own), so the machine's /run is never touched.
// /bin/sh runs the scripts: dash on Debian, which knows only POSIX sh.
func TestMaintainerScripts(t *testing.T) {
	need(t, "unshare", "mount")
	if os.Geteuid() != 0 {
		t.Fatal("a mount namespace needs root (make test runs as root on CI)")
	}
	const u = "chrony_exporter.service"
	var (
		firstInstall = []string{"daemon-reload", "preset " + u, "is-enabled --quiet " + u}
		started      = append(slices.Clone(firstInstall), "start "+u)
		restart      = []string{"daemon-reload", "try-restart " + u}
		stopDisable  = []string{"stop " + u, "disable --quiet " + u}
		disableOnly  = []string{"disable --quiet " + u}
		reload       = []string{"daemon-reload"}
	)
	for _, tc := range []struct {
		name    string
		script  string
		args    []string
		systemd bool
		enabled bool // what is-enabled answers: the preset enabled the unit
		want    []string
	}{
		{"deb first install, preset enables", "deb/postinst", []string{"configure", ""}, true, true, started},
		{"deb first install, preset disables", "deb/postinst", []string{"configure", ""}, true, false, firstInstall},
		{"deb upgrade", "deb/postinst", []string{"configure", "0.0.1"}, true, true, restart},
		{"deb first install without systemd", "deb/postinst", []string{"configure", ""}, false, true, nil},
		{"deb upgrade without systemd", "deb/postinst", []string{"configure", "0.0.1"}, false, true, nil},
		{"deb remove", "deb/prerm", []string{"remove"}, true, true, stopDisable},
		{"deb remove without systemd", "deb/prerm", []string{"remove"}, false, true, disableOnly},
		{"deb upgrade, old prerm", "deb/prerm", []string{"upgrade", "9.9.9"}, true, true, nil},
		{"deb remove, postrm", "deb/postrm", []string{"remove"}, true, true, reload},
		{"deb remove without systemd, postrm", "deb/postrm", []string{"remove"}, false, true, nil},
		{"deb purge", "deb/postrm", []string{"purge"}, true, true, nil},
		{"deb upgrade, old postrm", "deb/postrm", []string{"upgrade", "9.9.9"}, true, true, nil},
		{"rpm first install, preset enables", "rpm/post", []string{"1"}, true, true, started},
		{"rpm first install, preset disables", "rpm/post", []string{"1"}, true, false, firstInstall},
		{"rpm upgrade", "rpm/post", []string{"2"}, true, true, restart},
		{"rpm first install without systemd", "rpm/post", []string{"1"}, false, true, nil},
		{"rpm remove", "rpm/preun", []string{"0"}, true, true, stopDisable},
		{"rpm remove without systemd", "rpm/preun", []string{"0"}, false, true, disableOnly},
		{"rpm upgrade, old preun", "rpm/preun", []string{"1"}, true, true, nil},
		{"rpm remove, postun", "rpm/postun", []string{"0"}, true, true, reload},
		{"rpm upgrade, old postun", "rpm/postun", []string{"1"}, true, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := runScript(t, tc.script, tc.args, tc.systemd, tc.enabled)
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s %q called systemctl\n  %s\nwant\n  %s", tc.script, tc.args,
					strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

// runScript runs one maintainer script with a fake systemctl and returns
// the systemctl command lines it ran. The script must exit 0.
func runScript(t *testing.T, script string, args []string, withSystemd, enabled bool) []string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	const fake = `#!/bin/sh
echo "$*" >> "$FAKE_SYSTEMCTL_LOG"
case "$1" in
is-enabled) [ "$FAKE_SYSTEMCTL_ENABLED" = yes ] ;;
esac
`
	if err := os.WriteFile(filepath.Join(bin, "systemctl"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "systemctl.log")
	abs, err := filepath.Abs(script)
	if err != nil {
		t.Fatal(err)
	}
	setup := `mount -t tmpfs tmpfs /run || exit 1
if [ "$FAKE_SYSTEMD" = yes ]; then mkdir -p /run/systemd/system || exit 1; fi
exec /bin/sh "$@"`
	cmd := exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "/bin/sh", "-c", setup, "sh", abs}, args...)...)
	cmd.Env = append(os.Environ(),
		"PATH="+bin+":"+os.Getenv("PATH"),
		"FAKE_SYSTEMCTL_LOG="+log,
		"FAKE_SYSTEMCTL_ENABLED="+yesNo(enabled),
		"FAKE_SYSTEMD="+yesNo(withSystemd),
	)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %q: %v\n%s", script, args, err, out)
	}
	b, err := os.ReadFile(log)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
