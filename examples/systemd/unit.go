// Package systemd holds chrony_exporter's example systemd unit and reads unit
// files, for its own tests and for those of the packages, which install a
// unit made from it.
package systemd

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
)

// Entry is one Key=Value line of a unit file.
type Entry struct {
	Section, Key, Value string
	Line                int
}

// Unit is a parsed unit file.
type Unit []Entry

var keyRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)

// Parse reads a unit file the way systemd does for our purposes: comments,
// blank lines, [Unit], [Service] and [Install] headers and Key=Value lines.
// Anything else is an error, continuation lines included, so that a unit
// stays simple enough for this reader to be right about it.
func Parse(r io.Reader) (Unit, error) {
	var (
		u    Unit
		errs []error
	)
	section := ""
	s := bufio.NewScanner(r)
	for n := 1; s.Scan(); n++ {
		line := strings.TrimSpace(s.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			if section != "Unit" && section != "Service" && section != "Install" {
				errs = append(errs, fmt.Errorf("line %d: unexpected section [%s]", n, section))
			}
		default:
			k, v, ok := strings.Cut(line, "=")
			k = strings.TrimSpace(k)
			if !ok || !keyRE.MatchString(k) {
				errs = append(errs, fmt.Errorf("line %d: not Key=Value: %q", n, line))
				continue
			}
			if section == "" {
				errs = append(errs, fmt.Errorf("line %d: %s outside a section", n, k))
			}
			if strings.HasSuffix(v, `\`) {
				errs = append(errs, fmt.Errorf("line %d: continuation lines are not expected", n))
			}
			u = append(u, Entry{section, k, strings.TrimSpace(v), n})
		}
	}
	if err := s.Err(); err != nil {
		errs = append(errs, err)
	}
	return u, errors.Join(errs...)
}

// ParseFile parses the unit file at path (see Parse).
func ParseFile(path string) (Unit, error) {
	f, err := os.Open(path)
	if err != nil {
		return Unit{}, err
	}
	defer f.Close()
	u, err := Parse(f)
	if err != nil {
		return u, fmt.Errorf("%s: %w", path, err)
	}
	return u, nil
}

// Values returns every value of Section.Key (e.g. "Service.User"), in order.
func (u Unit) Values(sectionKey string) []string {
	var vs []string
	for _, e := range u {
		if e.Section+"."+e.Key == sectionKey {
			vs = append(vs, e.Value)
		}
	}
	return vs
}

// Value returns the one value of Section.Key, and false when the key is
// missing or set more than once.
func (u Unit) Value(sectionKey string) (string, bool) {
	vs := u.Values(sectionKey)
	if len(vs) != 1 {
		return "", false
	}
	return vs[0], true
}

// Verify runs `systemd-analyze verify` on the unit file at path, which needs
// no running systemd. Any output is an error too: verify warns about unknown
// keys and missing executables but still exits 0.
func Verify(path string) error {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		return fmt.Errorf("systemd-analyze (Debian package systemd): %w", err)
	}
	out, err := exec.Command(sa, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) != 0 {
		return fmt.Errorf("systemd-analyze verify %s: %v\n%s", path, err, out)
	}
	return nil
}
