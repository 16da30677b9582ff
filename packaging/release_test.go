//go:build integration

package packaging

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// releaseTarget is what a binary for one platform must be.
type releaseTarget struct {
	machine elf.Machine
	class   elf.Class
	osabi   elf.OSABI
	goarch  string
	goarm   string // GOARM for arm, "" elsewhere
}

// releaseTargets maps each release platform to its binary. Go marks
// FreeBSD binaries in the ELF header and leaves Linux ones at System V.
var releaseTargets = map[string]releaseTarget{
	"linux/amd64":   {elf.EM_X86_64, elf.ELFCLASS64, elf.ELFOSABI_NONE, "amd64", ""},
	"linux/arm64":   {elf.EM_AARCH64, elf.ELFCLASS64, elf.ELFOSABI_NONE, "arm64", ""},
	"linux/armv7":   {elf.EM_ARM, elf.ELFCLASS32, elf.ELFOSABI_NONE, "arm", "7"},
	"freebsd/amd64": {elf.EM_X86_64, elf.ELFCLASS64, elf.ELFOSABI_FREEBSD, "amd64", ""},
}

// TestRelease runs `make release` and checks each tarball's layout (as
// promu makes it), that each binary is a static build for its platform
// with the version linked in, and sha256sums.txt.
func TestRelease(t *testing.T) {
	need(t, "make", "tar", "sha256sum")
	dir := makeOnce(t, "release", "RELEASE_DIR")
	v := version(t)

	var want []string
	for _, p := range makefilePlatforms(t) {
		target, ok := releaseTargets[p]
		if !ok {
			t.Errorf("no expectations for platform %s", p)
			continue
		}
		goos, arch, _ := strings.Cut(p, "/")
		name := "chrony_exporter-" + v + "." + goos + "-" + arch
		want = append(want, name+".tar.gz")
		t.Run(p, func(t *testing.T) {
			files := readTarball(t, filepath.Join(dir, name+".tar.gz"))
			var entries []string
			for n := range files {
				entries = append(entries, n)
			}
			slices.Sort(entries)
			wantEntries := []string{name + "/", name + "/CHANGELOG.md", name + "/LICENSE", name + "/README.md", name + "/chrony_exporter"}
			if !slices.Equal(entries, wantEntries) {
				t.Errorf("%s.tar.gz holds %v, want %v", name, entries, wantEntries)
			}
			for _, doc := range []string{"LICENSE", "README.md", "CHANGELOG.md"} {
				src, err := readRepoFile(doc)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(files[name+"/"+doc], src) {
					t.Errorf("%s/%s differs from the repository's", name, doc)
				}
			}
			checkBinary(t, files[name+"/chrony_exporter"], goos, target, v)
		})
	}

	checkSums(t, dir, want)
}

// readRepoFile reads a file of the repository.
func readRepoFile(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(repoRoot, name))
}

// readTarball returns every entry of a .tar.gz: directories with a
// trailing slash and no content.
func readTarball(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	tr := tar.NewReader(zr)
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s: %s belongs to %d:%d, want 0:0", filepath.Base(path), h.Name, h.Uid, h.Gid)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = b
	}
}

// checkBinary checks the ELF header against the platform and the Go build
// settings: cgo off, GOOS, GOARCH, GOARM and the version in the ldflags.
func checkBinary(t *testing.T, bin []byte, goos string, want releaseTarget, version string) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("chrony_exporter is not ELF: %v", err)
	}
	if f.Machine != want.machine || f.Class != want.class || f.OSABI != want.osabi {
		t.Errorf("ELF %v %v %v, want %v %v %v", f.Machine, f.Class, f.OSABI, want.machine, want.class, want.osabi)
	}
	if f.Type != elf.ET_EXEC {
		t.Errorf("ELF type %v, want an executable", f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary has a program interpreter: it is not static")
		}
	}
	info, err := buildinfo.Read(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("build info: %v", err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	for k, v := range map[string]string{"GOOS": goos, "GOARCH": want.goarch, "GOARM": want.goarm, "CGO_ENABLED": "0"} {
		if settings[k] != v {
			t.Errorf("built with %s=%q, want %q", k, settings[k], v)
		}
	}
	if ld := settings["-ldflags"]; !strings.Contains(ld, "-X github.com/prometheus/common/version.Version="+version+" ") {
		t.Errorf("-ldflags %q do not set version %s", ld, version)
	}
}

// checkSums checks that sha256sums.txt lists exactly the tarballs, in
// sha256sum's format, with their digests, and that sha256sum agrees.
func checkSums(t *testing.T, dir string, tarballs []string) {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "sha256sums.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var listed []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		sum, name, ok := strings.Cut(s.Text(), "  ")
		if !ok || len(sum) != 64 {
			t.Errorf("sha256sums.txt: not \"<sha256>  <file>\": %q", s.Text())
			continue
		}
		listed = append(listed, name)
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("sha256sums.txt lists %s: %v", name, err)
			continue
		}
		if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != sum {
			t.Errorf("sha256sums.txt: %s has digest %x, listed %s", name, got, sum)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(listed)
	slices.Sort(tarballs)
	if !slices.Equal(listed, tarballs) {
		t.Errorf("sha256sums.txt lists %v, want %v", listed, tarballs)
	}
	cmd := exec.Command("sha256sum", "--check", "--strict", "sha256sums.txt")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("sha256sum --check: %v\n%s", err, out)
	}
}
