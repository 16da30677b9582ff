package chronyproto

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// protocolDoc is the protocol reference the comments cite, relative to the
// module root.
const protocolDoc = "docs/protocol.md"

// citationRE finds a section citation: the section sign and a dotted
// number. "§4.2 step 6" yields 4.2, and a full stop after the number ends
// it ("see §10." is 10). A section sign right after an RFC's number cites
// that RFC ("RFC 9110 §12.5.3"); the first group catches those.
var citationRE = regexp.MustCompile(`((?i:rfc)[ -]?[0-9]+,?[ \t]*)?§([0-9]+(?:\.[0-9]+)*)`)

// citedSections returns the sections of the protocol reference that line
// cites.
func citedSections(line string) []string {
	var out []string
	for _, m := range citationRE.FindAllStringSubmatch(line, -1) {
		if m[1] == "" {
			out = append(out, m[2])
		}
	}
	return out
}

// headingRE matches a numbered Markdown heading: "## 8. Reports" gives 8,
// "### 8.4 TRACKING" gives 8.4.
var headingRE = regexp.MustCompile(`^#+[ \t]+([0-9]+(?:\.[0-9]+)*)\.?(?:[ \t]|$)`)

// skipDirs are directories that hold other people's files (hidden ones,
// .git and the build output, are skipped too).
var skipDirs = map[string]bool{"vendor": true, "node_modules": true}

// docSections returns the section numbers that have a heading in the
// Markdown text, and the numbers that have more than one.
func docSections(text string) (sections map[string]bool, dups []string) {
	sections = map[string]bool{}
	fence := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fence = !fence
			continue
		}
		if fence {
			continue
		}
		if m := headingRE.FindStringSubmatch(line); m != nil {
			if sections[m[1]] {
				dups = append(dups, m[1])
			}
			sections[m[1]] = true
		}
	}
	return sections, dups
}

// citation is one § citation found in the tree.
type citation struct {
	file    string // relative to the module root
	line    int
	section string
}

// findCitations walks the tree under root and returns every § citation in
// its .go, .hex and .md files. Hidden directories (.git, build output) and
// skipDirs are left out.
func findCitations(t *testing.T, root string) []citation {
	t.Helper()
	var out []citation
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && (strings.HasPrefix(d.Name(), ".") || skipDirs[d.Name()]) {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".hex", ".md":
		default:
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
		for n := 1; sc.Scan(); n++ {
			for _, sec := range citedSections(sc.Text()) {
				out = append(out, citation{file: rel, line: n, section: sec})
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestProtocolDocCitations holds every § citation in the repository's Go
// files, hand-made packets and Markdown against the numbered headings of
// docs/protocol.md, so that a citation always leads somewhere.
func TestProtocolDocCitations(t *testing.T) {
	root := ".."
	text, err := os.ReadFile(filepath.Join(root, protocolDoc))
	if err != nil {
		t.Fatalf("the protocol reference must be in the repository: %v", err)
	}
	sections, dups := docSections(string(text))
	if len(sections) == 0 {
		t.Fatalf("%s has no numbered headings", protocolDoc)
	}
	for _, d := range dups {
		t.Errorf("%s: section %s has more than one heading", protocolDoc, d)
	}
	cites := findCitations(t, root)
	// The code cites the reference in over a hundred places; finding only
	// a few means the walk went wrong, not that all is well.
	if len(cites) < 50 {
		t.Fatalf("found only %d § citations under %s", len(cites), root)
	}
	missing := map[string]int{}
	for _, c := range cites {
		if !sections[c.section] {
			t.Errorf("%s:%d: §%s has no heading in %s", c.file, c.line, c.section, protocolDoc)
			missing[c.section]++
		}
	}
	if len(missing) > 0 {
		var ss []string
		for s := range missing {
			ss = append(ss, "§"+s)
		}
		sort.Strings(ss)
		t.Logf("sections cited but missing from %s: %s", protocolDoc, strings.Join(ss, " "))
	}
}

// TestProtocolDocHeadingRE pins what counts as a heading for a section
// number and what a citation names.
func TestProtocolDocHeadingRE(t *testing.T) {
	sections, dups := docSections("# Title\n## 8. Reports\n### 8.4 TRACKING\n#### 8.2.1 Modes\n" +
		"## 10 Versions\n#### 9.1x not a number\n8.5 no hash\n```\n## 7. in a fence\n```\n## 8. again\n")
	for _, s := range []string{"8", "8.4", "8.2.1", "10"} {
		if !sections[s] {
			t.Errorf("heading %s not found", s)
		}
	}
	for _, s := range []string{"9.1", "9", "8.5", "7"} {
		if sections[s] {
			t.Errorf("%s taken for a heading", s)
		}
	}
	if len(dups) != 1 || dups[0] != "8" {
		t.Errorf("duplicates %v, want [8]", dups)
	}
	got := citedSections("(§4.2 step 6, §7.1), see §10. and §8.2.3; RFC 9110 §12.5.3, rfc9110 §1 too")
	if strings.Join(got, " ") != "4.2 7.1 10 8.2.3" {
		t.Errorf("citations %q", got)
	}
}
