//go:build integration

package packaging

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/second-hand/chrony_exporter/examples/systemd"
)

const (
	sourceUnit = "examples/systemd/chrony_exporter.service"
	rpmUnit    = "/usr/lib/systemd/system/chrony_exporter.service"
)

// rpmFiles is every file of the .rpm with its rpm flags: c config, n
// noreplace (an edited file survives upgrades), d doc, l license.
var rpmFiles = []string{
	"/etc/default/chrony_exporter cn",
	"/usr/bin/chrony_exporter ",
	"/usr/lib/systemd/system/chrony_exporter.service ",
	"/usr/share/doc/chrony-exporter/CHANGELOG.md d",
	"/usr/share/doc/chrony-exporter/README.md d",
	"/usr/share/licenses/chrony-exporter/LICENSE l",
}

// TestRPM checks the .rpm's files, its dependency on chrony, its scriptlets
// and its unit, which must run as Fedora's and SUSE's chronyd user.
func TestRPM(t *testing.T) {
	need(t, "rpm", "rpm2archive", "dpkg-deb")
	deb, rpm := packages(t)

	if got := run(t, "rpm", "-qpl", rpm); strings.Fields(got) == nil || !slices.Equal(strings.Fields(got), names(rpmFiles)) {
		t.Errorf("rpm -qpl lists\n%s\nwant\n  %s", got, strings.Join(names(rpmFiles), "\n  "))
	}
	got := strings.Split(strings.TrimSpace(run(t, "rpm", "-qp", "--qf", `[%{FILENAMES} %{FILEFLAGS:fflags}\n]`, rpm)), "\n")
	if !slices.Equal(got, rpmFiles) {
		t.Errorf("rpm files and flags:\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(rpmFiles, "\n  "))
	}
	if requires := strings.Fields(run(t, "rpm", "-qp", "--requires", rpm)); !slices.Contains(requires, "chrony") {
		t.Errorf("the rpm does not require chrony: %v", requires)
	}
	if name := run(t, "rpm", "-qp", "--qf", "%{NAME}", rpm); name != pkgName {
		t.Errorf("rpm name %q, want %s", name, pkgName)
	}
	for tag, script := range map[string]string{"POSTIN": "rpm/post", "PREUN": "rpm/preun", "POSTUN": "rpm/postun"} {
		want, err := os.ReadFile(script)
		if err != nil {
			t.Fatal(err)
		}
		if got := run(t, "rpm", "-qp", "--qf", "%{"+tag+"}", rpm); strings.TrimSpace(got) != strings.TrimSpace(string(want)) {
			t.Errorf("the rpm's %s scriptlet is not packaging/%s:\n%s", tag, script, got)
		}
	}

	// The rpm's unit is the deb's with chronyd's user renamed, and the
	// deb's is the example unit with the packaged binary: one source.
	archive, err := exec.Command("sh", "-c", `rpm2archive - < "$1"`, "sh", rpm).Output()
	if err != nil {
		t.Fatalf("rpm2archive %s: %v", rpm, err)
	}
	rpmText := fileInTar(t, archive, true, "."+rpmUnit)
	debArchive, err := exec.Command("dpkg-deb", "--fsys-tarfile", deb).Output()
	if err != nil {
		t.Fatalf("dpkg-deb --fsys-tarfile %s: %v", deb, err)
	}
	debText := fileInTar(t, debArchive, false, "."+debUnit)
	src, err := os.ReadFile(filepath.Join(repoRoot, sourceUnit))
	if err != nil {
		t.Fatal(err)
	}
	checkDerived(t, "the deb's unit", string(src), debText, map[string]string{
		"ExecStart=/usr/local/bin/chrony_exporter $ARGS": "ExecStart=/usr/bin/chrony_exporter $ARGS",
	})
	checkDerived(t, "the rpm's unit", debText, rpmText, map[string]string{
		"User=_chrony":  "User=chrony",
		"Group=_chrony": "Group=chrony",
	})
	unit, err := systemd.Parse(strings.NewReader(rpmText))
	if err != nil {
		t.Errorf("the rpm's unit: %v", err)
	}
	for key, want := range map[string]string{
		"Service.User":      "chrony",
		"Service.Group":     "chrony",
		"Service.ExecStart": installedBin + " $ARGS",
	} {
		if got, _ := unit.Value(key); got != want {
			t.Errorf("the rpm's unit: %s=%s, want %s", key, got, want)
		}
	}
	// systemd-analyze checks that ExecStart exists: point it at one that
	// does here.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "chrony_exporter.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(rpmText, installedBin, self)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := systemd.Verify(path); err != nil {
		t.Errorf("the rpm's unit: %v", err)
	}
}

// names returns the first field of each line.
func names(lines []string) []string {
	var ns []string
	for _, l := range lines {
		ns = append(ns, strings.Fields(l)[0])
	}
	return ns
}

// checkDerived requires derived to be base with exactly the lines of
// rewrite replaced, each of them present once.
func checkDerived(t *testing.T, what, base, derived string, rewrite map[string]string) {
	t.Helper()
	baseLines := strings.Split(base, "\n")
	derivedLines := strings.Split(derived, "\n")
	if len(baseLines) != len(derivedLines) {
		t.Errorf("%s has %d lines, its source %d", what, len(derivedLines), len(baseLines))
		return
	}
	seen := map[string]int{}
	for i, b := range baseLines {
		want := b
		if r, ok := rewrite[b]; ok {
			want = r
			seen[b]++
		}
		if derivedLines[i] != want {
			t.Errorf("%s, line %d: %q, want %q", what, i+1, derivedLines[i], want)
		}
	}
	for from := range rewrite {
		if seen[from] != 1 {
			t.Errorf("%s: the source has %q %d times, want once", what, from, seen[from])
		}
	}
}

// fileInTar returns the content of the file name in a tar archive.
func fileInTar(t *testing.T, archive []byte, gzipped bool, name string) string {
	t.Helper()
	var r io.Reader = bytes.NewReader(archive)
	if gzipped {
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			t.Fatalf("no %s in the archive", name)
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == name {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
}
