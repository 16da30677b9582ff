//go:build integration

package packaging

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
	"github.com/second-hand/chrony_exporter/collector"
	"github.com/second-hand/chrony_exporter/examples/systemd"
)

const (
	pkgName      = "chrony-exporter"
	installedBin = "/usr/bin/chrony_exporter"
	conffile     = "/etc/default/chrony_exporter"
	// Debian 12 keeps units in /lib.
	debUnit = "/lib/systemd/system/chrony_exporter.service"
	// Where `systemctl enable` links the unit (WantedBy=multi-user.target).
	enableLink = "/etc/systemd/system/multi-user.target.wants/chrony_exporter.service"
)

// debFiles is every file (not directory) the .deb holds.
var debFiles = []string{
	conffile,
	debUnit,
	installedBin,
	"/usr/share/doc/chrony-exporter/CHANGELOG.md",
	"/usr/share/doc/chrony-exporter/README.md",
	"/usr/share/doc/chrony-exporter/changelog.gz",
	"/usr/share/doc/chrony-exporter/copyright",
	"/usr/share/lintian/overrides/chrony-exporter",
}

// version is the VERSION file, which the Makefile and so the packages use.
func version(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// packages builds the amd64 .deb and .rpm (the architecture this machine
// can install and run) and returns their paths.
func packages(t *testing.T) (deb, rpm string) {
	t.Helper()
	need(t, "make", "gzip", "sed")
	dir := makeOnce(t, "package", "PACKAGE_DIR", "PACKAGE_ARCHS=amd64")
	v := version(t)
	deb = filepath.Join(dir, pkgName+"_"+v+"_amd64.deb")
	rpm = filepath.Join(dir, pkgName+"-"+v+"-1.x86_64.rpm")
	for _, p := range []string{deb, rpm} {
		if _, err := os.Stat(p); err != nil {
			entries, _ := os.ReadDir(dir)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Fatalf("make package made no %s (it made %v)", filepath.Base(p), names)
		}
	}
	return deb, rpm
}

// TestDebContents checks the .deb's files and its dependency on chrony,
// whose package creates the user the unit runs as.
func TestDebContents(t *testing.T) {
	need(t, "dpkg-deb")
	deb, _ := packages(t)
	var files []string
	for _, line := range strings.Split(run(t, "dpkg-deb", "--contents", deb), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || strings.HasPrefix(f[0], "d") {
			continue
		}
		files = append(files, strings.TrimPrefix(f[5], "."))
	}
	slices.Sort(files)
	if !slices.Equal(files, debFiles) {
		t.Errorf("the .deb holds\n  %s\nwant\n  %s", strings.Join(files, "\n  "), strings.Join(debFiles, "\n  "))
	}
	if got := strings.TrimSpace(run(t, "dpkg-deb", "--field", deb, "Depends")); got != "chrony" {
		t.Errorf("Depends: %q, want chrony", got)
	}
	if got := strings.TrimSpace(run(t, "dpkg-deb", "--field", deb, "Package")); got != pkgName {
		t.Errorf("Package: %q, want %s", got, pkgName)
	}
	for _, script := range []string{"postinst", "prerm", "postrm"} {
		want, err := os.ReadFile(filepath.Join("deb", script))
		if err != nil {
			t.Fatal(err)
		}
		if got := run(t, "dpkg-deb", "--info", deb, script); got != string(want) {
			t.Errorf("the .deb's %s is not packaging/deb/%s:\n%s", script, script, got)
		}
	}
}

// TestDebLintian runs lintian on the .deb: errors fail, warnings are logged.
// (Overridden tags, in packaging/lintian-overrides, are not shown: with
// --show-overrides lintian exits 2 for them too.)
func TestDebLintian(t *testing.T) {
	need(t, "lintian")
	deb, _ := packages(t)
	out, err := exec.Command("lintian", "--no-cfg", "--fail-on", "error", deb).CombinedOutput()
	t.Logf("lintian %s:\n%s", filepath.Base(deb), out)
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "E:") {
			t.Errorf("lintian error: %s", line)
		}
	}
	if err != nil {
		t.Errorf("lintian: %v", err)
	}
}

// TestDebInstallRunRemove installs the .deb on this machine, runs the
// installed exporter as the installed unit's user against a stock-mode
// chronyd socket, then removes and purges the package and checks that
// nothing else stays behind.
func TestDebInstallRunRemove(t *testing.T) {
	need(t, "dpkg", "dpkg-query", "systemctl", "systemd-analyze", "chronyd")
	if os.Geteuid() != 0 {
		t.Fatal("installing a package needs root (make test runs as root on CI)")
	}
	deb, _ := packages(t)
	if exec.Command("dpkg-query", "-W", pkgName).Run() == nil {
		t.Fatalf("%s is already installed here; this test installs and purges it, so remove it first: dpkg -P %s", pkgName, pkgName)
	}
	// Started before the install: its chronyd's files are no leftover of
	// the package.
	lab := chronytest.StartLab(t, chronytest.Config{})

	before := listing(t)
	t.Cleanup(func() {
		if exec.Command("dpkg-query", "-W", pkgName).Run() == nil {
			if out, err := exec.Command("dpkg", "--purge", pkgName).CombinedOutput(); err != nil {
				t.Errorf("cleanup: dpkg --purge %s: %v\n%s", pkgName, err, out)
			}
		}
		if _, err := os.Lstat(enableLink); err == nil {
			os.Remove(enableLink)
		}
	})
	t.Logf("dpkg -i:\n%s", run(t, "dpkg", "-i", deb))

	conffiles := run(t, "dpkg-query", "-W", "-f=${Conffiles}", pkgName)
	if !strings.Contains(conffiles, conffile+" ") {
		t.Errorf("%s is not a conffile; dpkg lists: %q", conffile, conffiles)
	}
	if _, err := os.Lstat(enableLink); err == nil {
		t.Errorf("the install enabled the service without a running systemd: %s exists", enableLink)
	}

	unit := readInstalledUnit(t, debUnit)
	if got, _ := unit.Value("Service.ExecStart"); got != installedBin+" $ARGS" {
		t.Errorf("%s: ExecStart=%s, want %s $ARGS", debUnit, got, installedBin)
	}
	if err := systemd.Verify(debUnit); err != nil {
		t.Error(err)
	}

	if out := run(t, installedBin, "--version"); !strings.Contains(out, "version "+version(t)) {
		t.Errorf("%s --version does not name version %s (ldflags):\n%s", installedBin, version(t), out)
	}

	userName, _ := unit.Value("Service.User")
	groupName, _ := unit.Value("Service.Group")
	if userName != lab.User {
		t.Errorf("%s runs as User=%s, but chronyd runs as %s", debUnit, userName, lab.User)
	}
	cred := credential(t, userName, groupName)
	checkScrape(t, cred, "unix://"+lab.SocketPath)

	// An administrator's `systemctl enable`, made offline as in a chroot:
	// removal must take the link away.
	run(t, "systemctl", "enable", "chrony_exporter.service")
	if _, err := os.Lstat(enableLink); err != nil {
		t.Fatalf("systemctl enable made no %s: %v", enableLink, err)
	}

	t.Logf("dpkg -r:\n%s", run(t, "dpkg", "-r", pkgName))
	if _, err := os.Lstat(enableLink); err == nil {
		t.Errorf("dpkg -r left the enablement link %s", enableLink)
	}
	if left := leftovers(t, before, listing(t)); !slices.Equal(left, []string{conffile}) {
		t.Errorf("after dpkg -r, new paths are %v; want only the conffile %s, kept until purge", left, conffile)
	}

	t.Logf("dpkg -P:\n%s", run(t, "dpkg", "-P", pkgName))
	if left := leftovers(t, before, listing(t)); len(left) != 0 {
		t.Errorf("after dpkg -P, new paths remain: %v", left)
	}
}

// readInstalledUnit parses an installed unit file.
func readInstalledUnit(t *testing.T, path string) systemd.Unit {
	t.Helper()
	u, err := systemd.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// credential is what systemd gives a unit with User=name and Group=group:
// those ids and the user's supplementary groups.
func credential(t *testing.T, name, group string) *syscall.Credential {
	t.Helper()
	if name == "" || group == "" {
		t.Fatalf("the unit sets User=%q Group=%q; both must be set", name, group)
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("User=%s: %v", name, err)
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		t.Fatalf("Group=%s: %v", group, err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(g.Gid, 10, 32)
	gids, err := u.GroupIds()
	if err != nil {
		t.Fatal(err)
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	for _, s := range gids {
		n, _ := strconv.ParseUint(s, 10, 32)
		cred.Groups = append(cred.Groups, uint32(n))
	}
	return cred
}

// checkScrape runs the installed exporter as cred against address and
// requires chrony_up 1 and every collector that is on by default to have
// succeeded.
func checkScrape(t *testing.T, cred *syscall.Credential, address string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := l.Addr().String()
	l.Close()

	ctx, cancel := context.WithCancel(context.Background())
	var stderr strings.Builder
	cmd := exec.CommandContext(ctx, installedBin, "--chrony.address="+address, "--web.listen-address="+listen)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cancel()
		<-exited
	}()

	text, err := scrapeMetrics("http://"+listen+"/metrics", exited)
	if err != nil {
		t.Fatalf("scraping %s as uid %d: %v\nexporter output:\n%s", installedBin, cred.Uid, err, stderr.String())
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	value := func(name, collector string) (float64, bool) {
		for _, m := range families[name].GetMetric() {
			match := collector == ""
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "collector" && lp.GetValue() == collector {
					match = true
				}
			}
			if match {
				return m.GetGauge().GetValue(), true
			}
		}
		return 0, false
	}
	if v, ok := value("chrony_up", ""); !ok || v != 1 {
		t.Errorf("chrony_up = %v (present: %v), want 1\nexporter output:\n%s", v, ok, stderr.String())
	}
	var checked int
	for _, name := range collector.Names() {
		if !collector.DefaultEnabled(name) {
			continue
		}
		checked++
		if v, ok := value("chrony_scrape_collector_success", name); !ok || v != 1 {
			t.Errorf(`chrony_scrape_collector_success{collector=%q} = %v (present: %v), want 1`, name, v, ok)
		}
	}
	if checked == 0 {
		t.Error("collector.Names() lists no collector on by default")
	}
	if t.Failed() {
		t.Logf("exporter output:\n%s", stderr.String())
	}
}

// scrapeMetrics gets url until the exporter answers 200, or fails when it
// exits or does not answer within a deadline that only proves it does not
// hang.
func scrapeMetrics(url string, exited <-chan error) (string, error) {
	client := &http.Client{Timeout: 10 * time.Second}
	var last error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		select {
		case err := <-exited:
			return "", fmt.Errorf("the exporter exited: %v", err)
		default:
		}
		resp, err := client.Get(url)
		if err != nil {
			last = err
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return "", fmt.Errorf("GET %s: %v", url, err)
		}
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return string(body), nil
	}
	return "", fmt.Errorf("no answer from %s: %v", url, last)
}

// listingRoots are the trees a package could leave something in; dpkg keeps
// its own records of a removed package (in /var/lib/dpkg/info) until purge.
var (
	listingRoots   = []string{"/etc", "/usr", "/lib", "/var", "/run"}
	listingSkipped = []string{"/var/lib/dpkg/info"}
)

// listing returns every path under listingRoots, symbolic links not
// followed.
func listing(t *testing.T) map[string]bool {
	t.Helper()
	paths := map[string]bool{}
	for _, root := range listingRoots {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				// Files of other processes come and go while we walk.
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if slices.Contains(listingSkipped, p) {
				return filepath.SkipDir
			}
			paths[p] = true
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return paths
}

// leftovers returns the paths in after that were not in before, leaving
// out those dpkg says belong to another package: other work on this machine
// may install packages while the test runs.
func leftovers(t *testing.T, before, after map[string]bool) []string {
	t.Helper()
	var added []string
	for p := range after {
		if !before[p] {
			added = append(added, p)
		}
	}
	slices.Sort(added)
	var left []string
	for _, p := range added {
		out, err := exec.Command("dpkg-query", "-S", p).Output()
		if err == nil && !strings.HasPrefix(string(out), pkgName+":") {
			continue
		}
		left = append(left, p)
	}
	return left
}
