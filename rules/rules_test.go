// Package rules_test checks rules/chrony.rules.yml with promtool and with the
// style of the monitoring mixins.
package rules_test

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

const (
	rulesFile    = "chrony.rules.yml"
	rulesTest    = "chrony.rules.test.yml"
	runbooksFile = "../docs/runbooks.md"
	runbooksURL  = "https://github.com/second-hand/chrony_exporter/blob/main/docs/runbooks.md"
	maxNameLen   = 40
)

// The alerts issue 5 asks for; each must exist.
var wantAlerts = []string{
	"ChronyUnreachable",
	"ChronyExporterDown",
	"ChronyNotSynchronized",
	"ChronyClockOffsetHigh",
	"ChronyClockErrorHigh",
	"ChronyNoReachableSources",
	"ChronyTooFewReachableSources",
	"ChronyFalseticker",
	"ChronyLeapSecondPending",
	"ChronyRTCDrifting",
	"ChronyCollectorFailing",
	"ChronyNTSFailing",
}

const recordingRule = "instance:chrony_clock_error_seconds:abs"

type rule struct {
	Record, Alert, Expr, For string
	Labels, Annotations      map[string]string
}

func loadRules(t *testing.T) []rule {
	t.Helper()
	doc := parseYAMLFile(t, rulesFile)
	var rules []rule
	for _, g := range list(doc, "groups") {
		for _, r := range list(g, "rules") {
			m, _ := r.(map[string]any)
			rules = append(rules, rule{
				Record:      str(m, "record"),
				Alert:       str(m, "alert"),
				Expr:        str(m, "expr"),
				For:         str(m, "for"),
				Labels:      strMap(m, "labels"),
				Annotations: strMap(m, "annotations"),
			})
		}
	}
	if len(rules) == 0 {
		t.Fatalf("no rules read from %s", rulesFile)
	}
	return rules
}

var (
	camelCase   = regexp.MustCompile(`^Chrony[A-Z][A-Za-z0-9]*$`)
	templated   = regexp.MustCompile(`\{\{`)
	instanceRef = regexp.MustCompile(`\{\{\s*\$labels\.instance\s*\}\}`)
	valueRef    = regexp.MustCompile(`\{\{\s*\$value\b[^}]*\}\}`)
	severities  = map[string]bool{"critical": true, "warning": true, "info": true}
	// A threshold: a comparison with a number, e.g. `> 0.05`.
	threshold = regexp.MustCompile(`(==|!=|>=|<=|>|<)\s*(-?[0-9][0-9.e+-]*)`)
)

// TestMixinStyle checks the alerts as the monitoring mixins write them.
func TestMixinStyle(t *testing.T) {
	rules := loadRules(t)
	seen := map[string]bool{}
	for _, r := range rules {
		if r.Record != "" {
			seen[r.Record] = true
			if !regexp.MustCompile(`^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$`).MatchString(r.Record) {
				t.Errorf("recording rule %q is not named level:metric:operations", r.Record)
			}
			continue
		}
		name := r.Alert
		if seen[name] {
			t.Errorf("alert %s is defined twice", name)
		}
		seen[name] = true
		if !camelCase.MatchString(name) || len(name) > maxNameLen {
			t.Errorf("alert %q: want CamelCase starting with Chrony, at most %d characters", name, maxNameLen)
		}
		if r.For == "" {
			t.Errorf("alert %s has no for: a single bad scrape would fire it", name)
		}
		if !severities[r.Labels["severity"]] {
			t.Errorf("alert %s: severity %q, want critical, warning or info", name, r.Labels["severity"])
		}
		if r.Annotations["runbook_url"] == "" {
			t.Errorf("alert %s has no runbook_url", name)
		}
		for k := range r.Annotations {
			if k != "summary" && k != "description" && k != "runbook_url" {
				t.Errorf("alert %s has annotation %q; mixins use summary, description and runbook_url", name, k)
			}
		}
		summary, description := r.Annotations["summary"], r.Annotations["description"]
		if summary == "" || templated.MatchString(summary) || !strings.HasSuffix(summary, ".") {
			t.Errorf("alert %s: summary %q must be fixed text ending with a period", name, summary)
		}
		if !instanceRef.MatchString(description) || !valueRef.MatchString(description) {
			t.Errorf("alert %s: description must name {{ $labels.instance }} and {{ $value }}: %q", name, description)
		}
		if !strings.Contains(strings.ToLower(description), "check") {
			t.Errorf("alert %s: description must say what to check first: %q", name, description)
		}
		// One place per threshold: the number in expr is never repeated in
		// the annotations, which would then go stale when it is changed.
		for _, m := range threshold.FindAllStringSubmatch(r.Expr, -1) {
			n := m[2]
			if n == "0" || n == "1" {
				continue // chrony_up == 0 and the like are states, not thresholds
			}
			for k, a := range r.Annotations {
				if regexp.MustCompile(`(^|[^0-9.])` + regexp.QuoteMeta(n) + `($|[^0-9])`).MatchString(a) {
					t.Errorf("alert %s repeats its threshold %s in its %s; write it only in expr", name, n, k)
				}
			}
		}
	}
	for _, want := range append([]string{recordingRule}, wantAlerts...) {
		if !seen[want] {
			t.Errorf("rule %s is missing", want)
		}
	}
}

// TestEveryAlertTested checks that chrony.rules.test.yml shows each alert
// both firing and not firing.
func TestEveryAlertTested(t *testing.T) {
	doc := parseYAMLFile(t, rulesTest)
	firing, quiet := map[string]bool{}, map[string]bool{}
	recordingTested := false
	for _, tc := range list(doc, "tests") {
		for _, a := range list(tc, "alert_rule_test") {
			m, _ := a.(map[string]any)
			name := str(m, "alertname")
			if len(list(a, "exp_alerts")) > 0 {
				firing[name] = true
			} else {
				quiet[name] = true
			}
		}
		for _, e := range list(tc, "promql_expr_test") {
			m, _ := e.(map[string]any)
			if str(m, "expr") == recordingRule {
				recordingTested = true
			}
		}
	}
	for _, r := range loadRules(t) {
		if r.Alert == "" {
			continue
		}
		if !firing[r.Alert] || !quiet[r.Alert] {
			t.Errorf("%s: alert %s is tested firing %v, not firing %v; want both", rulesTest, r.Alert, firing[r.Alert], quiet[r.Alert])
		}
	}
	if !recordingTested {
		t.Errorf("%s does not test the recording rule %s", rulesTest, recordingRule)
	}
}

// runbookParts are the parts every runbook section has, in this order.
var runbookParts = []string{"**Meaning.**", "**Confirm.**", "**Causes, most common first.**", "**Fix.**"}

// TestRunbooks checks docs/runbooks.md against the alerts: a section per
// alert, a runbook_url pointing at an anchor GitHub makes for that section,
// and no section for an alert that is gone.
func TestRunbooks(t *testing.T) {
	src, err := os.ReadFile(runbooksFile)
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	sections := map[string]string{} // an alert's heading to its text
	seen := map[string]int{}
	current := ""
	fence := false
	for _, line := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(line, "```") {
			fence = !fence
		}
		if m := regexp.MustCompile(`^(#{1,6}) +(.+?) *#*$`).FindStringSubmatch(line); m != nil && !fence {
			a := githubAnchor(m[2])
			if n := seen[a]; n > 0 {
				a = fmt.Sprintf("%s-%d", a, n)
			}
			seen[githubAnchor(m[2])]++
			anchors[a] = true
			current = ""
			if len(m[1]) == 2 && camelCase.MatchString(m[2]) {
				current = m[2]
				sections[current] = ""
			}
			continue
		}
		if current != "" {
			sections[current] += line + "\n"
		}
	}
	alerts := map[string]bool{}
	for _, r := range loadRules(t) {
		if r.Alert == "" {
			continue
		}
		alerts[r.Alert] = true
		text, ok := sections[r.Alert]
		if !ok {
			t.Errorf("alert %s has no section \"## %s\" in %s", r.Alert, r.Alert, runbooksFile)
		}
		u := r.Annotations["runbook_url"]
		base, anchor, _ := strings.Cut(u, "#")
		switch {
		case base != runbooksURL:
			t.Errorf("alert %s: runbook_url %q is not in %s", r.Alert, u, runbooksURL)
		case !anchors[anchor]:
			t.Errorf("alert %s: runbook_url %q points at an anchor %s does not have", r.Alert, u, runbooksFile)
		case anchor != githubAnchor(r.Alert):
			t.Errorf("alert %s: runbook_url %q points at another section than the alert's own", r.Alert, u)
		}
		last := -1
		for _, part := range runbookParts {
			i := strings.Index(text, part)
			if ok && i <= last {
				t.Errorf("runbook of %s lacks %s, or has it out of order (want %v)", r.Alert, part, runbookParts)
			}
			last = i
		}
		if ok && !strings.Contains(text, "chronyc") && !strings.Contains(text, "Prometheus") {
			t.Errorf("runbook of %s names no command to confirm it", r.Alert)
		}
	}
	for name := range sections {
		if !alerts[name] {
			t.Errorf("%s has a section for %s, which is no alert of %s", runbooksFile, name, rulesFile)
		}
	}
}

// githubAnchor is the id GitHub gives a Markdown heading: lower case,
// punctuation other than - and _ dropped, spaces turned into dashes.
func githubAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestGitHubAnchor shows githubAnchor on headings as GitHub renders them.
func TestGitHubAnchor(t *testing.T) {
	for heading, want := range map[string]string{
		"ChronyUnreachable":         "chronyunreachable",
		"Runbooks for the alerts":   "runbooks-for-the-alerts",
		"NTS / authentication":      "nts--authentication",
		"What's `chronyc`? (4.7+)":  "whats-chronyc-47",
		"snake_case and-dashes, ok": "snake_case-and-dashes-ok",
	} {
		if got := githubAnchor(heading); got != want {
			t.Errorf("githubAnchor(%q) = %q, want %q", heading, got, want)
		}
	}
}

// TestYAMLReader shows the small YAML reader below on the forms the rule
// files use.
func TestYAMLReader(t *testing.T) {
	src := `# comment
a: plain # trailing comment
b: 'single ''quoted'''
c: "double \"quoted\" # not a comment"
d: |-
  line one
    indented
  line three
e:
  - x: 1
    y: [p, 'q r']
  -   x: 2
  - z
f: []
g:
- h: {}
`
	got := fmt.Sprint(parseYAML(t, "test", src))
	want := `map[a:plain b:single 'quoted' c:double "quoted" # not a comment d:line one
  indented
line three e:[map[x:1 y:[p q r]] map[x:2] z] f:[] g:[map[h:map[]]]]`
	if got != want {
		t.Errorf("parseYAML:\n got %s\nwant %s", got, want)
	}
}

// ---- A small YAML reader: block mappings and sequences, plain and quoted
// scalars, block scalars (| and >, with - or +), flow sequences of scalars
// and empty flow collections. Enough for Prometheus rule and test files,
// without a YAML module in go.mod. Anything else fails the test.

type yamlLine struct {
	n      int // line number, from 1
	indent int
	text   string // without indentation
}

func parseYAMLFile(t *testing.T, path string) any {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseYAML(t, path, string(src))
}

func parseYAML(t *testing.T, name, src string) any {
	t.Helper()
	p := &yamlParser{name: name}
	for i, l := range strings.Split(src, "\n") {
		if strings.Contains(l, "\t") && strings.TrimLeft(l, " ") != strings.TrimLeft(l, " \t") {
			t.Fatalf("%s:%d: tab in indentation", name, i+1)
		}
		text := strings.TrimLeft(l, " ")
		p.lines = append(p.lines, yamlLine{n: i + 1, indent: len(l) - len(text), text: strings.TrimRight(text, " \r")})
	}
	v, err := p.block(-1)
	if err == nil && p.skipBlank() < len(p.lines) {
		err = p.errorf("unexpected indentation")
	}
	if err != nil {
		t.Fatal(err)
	}
	return v
}

type yamlParser struct {
	name  string
	lines []yamlLine
	pos   int
}

func (p *yamlParser) errorf(format string, args ...any) error {
	n := len(p.lines)
	if p.pos < len(p.lines) {
		n = p.lines[p.pos].n
	}
	return fmt.Errorf("%s:%d: %s", p.name, n, fmt.Sprintf(format, args...))
}

// skipBlank moves past empty and comment lines and returns the position.
func (p *yamlParser) skipBlank() int {
	for p.pos < len(p.lines) && (p.lines[p.pos].text == "" || strings.HasPrefix(p.lines[p.pos].text, "#")) {
		p.pos++
	}
	return p.pos
}

// block reads the node starting at the next line, which must be indented
// more than parent.
func (p *yamlParser) block(parent int) (any, error) {
	if p.skipBlank() >= len(p.lines) || p.lines[p.pos].indent <= parent {
		return nil, nil
	}
	l := p.lines[p.pos]
	if l.text == "-" || strings.HasPrefix(l.text, "- ") {
		return p.sequence(l.indent)
	}
	return p.mapping(l.indent)
}

func (p *yamlParser) sequence(indent int) (any, error) {
	out := []any{}
	for p.skipBlank() < len(p.lines) && p.lines[p.pos].indent == indent {
		l := p.lines[p.pos]
		if l.text != "-" && !strings.HasPrefix(l.text, "- ") {
			break
		}
		rest := strings.TrimLeft(strings.TrimPrefix(l.text, "-"), " ")
		if rest == "" {
			p.pos++
			v, err := p.block(indent)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			continue
		}
		// The item's content starts on this line: read it as if it were
		// on a line of its own, indented past the dash.
		p.lines[p.pos] = yamlLine{n: l.n, indent: l.indent + len(l.text) - len(rest), text: rest}
		if isMappingLine(rest) {
			v, err := p.mapping(p.lines[p.pos].indent)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			continue
		}
		v, err := p.scalar(rest)
		if err != nil {
			return nil, err
		}
		p.pos++
		out = append(out, v)
	}
	return out, nil
}

var yamlKey = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_.-]*):(?:\s+(.*))?$`)

func isMappingLine(s string) bool { return yamlKey.MatchString(s) }

func (p *yamlParser) mapping(indent int) (any, error) {
	out := map[string]any{}
	for p.skipBlank() < len(p.lines) && p.lines[p.pos].indent == indent {
		l := p.lines[p.pos]
		m := yamlKey.FindStringSubmatch(l.text)
		if m == nil {
			return nil, p.errorf("want key: value, got %q", l.text)
		}
		key, rest := m[1], stripComment(m[2])
		if _, dup := out[key]; dup {
			return nil, p.errorf("duplicate key %q", key)
		}
		p.pos++
		switch {
		case rest == "":
			// A nested block; a sequence may sit at the key's own indent.
			var v any
			var err error
			if p.skipBlank() < len(p.lines) && p.lines[p.pos].indent == indent && strings.HasPrefix(p.lines[p.pos].text, "-") {
				v, err = p.sequence(indent)
			} else {
				v, err = p.block(indent)
			}
			if err != nil {
				return nil, err
			}
			out[key] = v
		case strings.HasPrefix(rest, "|") || strings.HasPrefix(rest, ">"):
			v, err := p.blockScalar(indent, rest)
			if err != nil {
				return nil, err
			}
			out[key] = v
		default:
			p.pos--
			v, err := p.scalar(rest)
			if err != nil {
				return nil, err
			}
			p.pos++
			out[key] = v
		}
	}
	return out, nil
}

// blockScalar reads the lines of a | or > scalar after its key.
func (p *yamlParser) blockScalar(parent int, header string) (any, error) {
	folded, chomp := header[0] == '>', ""
	if len(header) > 1 {
		chomp = header[1:]
	}
	if chomp != "" && chomp != "-" && chomp != "+" {
		return nil, p.errorf("unsupported block scalar header %q", header)
	}
	var lines []string
	indent := -1
	for ; p.pos < len(p.lines); p.pos++ {
		l := p.lines[p.pos]
		if l.text == "" {
			lines = append(lines, "")
			continue
		}
		if l.indent <= parent {
			break
		}
		if indent < 0 {
			indent = l.indent
		}
		if l.indent < indent {
			return nil, p.errorf("block scalar line less indented than its first")
		}
		lines = append(lines, strings.Repeat(" ", l.indent-indent)+l.text)
	}
	// Trailing empty lines belong to the chomping, not the text.
	n := len(lines)
	for n > 0 && lines[n-1] == "" {
		n--
	}
	body := lines[:n]
	var s string
	if folded {
		s = strings.Join(body, " ")
	} else {
		s = strings.Join(body, "\n")
	}
	switch chomp {
	case "":
		s += "\n"
	case "+":
		s += strings.Repeat("\n", len(lines)-n+1)
	}
	return s, nil
}

// scalar reads a one-line value: quoted, plain, or a flow collection.
func (p *yamlParser) scalar(s string) (any, error) {
	s = stripComment(s)
	switch {
	case s == "[]":
		return []any{}, nil
	case s == "{}":
		return map[string]any{}, nil
	case strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]"):
		out := []any{}
		for _, item := range splitFlow(s[1 : len(s)-1]) {
			v, err := p.scalar(strings.TrimSpace(item))
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case strings.HasPrefix(s, "{"):
		return nil, p.errorf("flow mappings are not supported: %q", s)
	case strings.HasPrefix(s, "'"):
		if len(s) < 2 || !strings.HasSuffix(s, "'") {
			return nil, p.errorf("unterminated or multi-line single-quoted scalar %q", s)
		}
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'"), nil
	case strings.HasPrefix(s, `"`):
		v, err := strconv.Unquote(s)
		if err != nil {
			return nil, p.errorf("double-quoted scalar %s: %v", s, err)
		}
		return v, nil
	}
	return s, nil
}

// stripComment removes a " #" comment outside quotes.
func stripComment(s string) string {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == '"' && c == '\\':
			i++
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			if i == 0 || s[i-1] == ' ' || s[i-1] == '[' || s[i-1] == ',' {
				quote = c
			}
		case c == '#' && (i == 0 || s[i-1] == ' '):
			return strings.TrimRight(s[:i], " ")
		}
	}
	return s
}

// splitFlow splits the inside of a flow sequence at commas outside quotes.
func splitFlow(s string) []string {
	var out []string
	var quote byte
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == ',':
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if strings.TrimSpace(s[start:]) != "" || len(out) > 0 {
		out = append(out, s[start:])
	}
	return out
}

func list(node any, key string) []any {
	m, _ := node.(map[string]any)
	l, _ := m[key].([]any)
	return l
}

func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

func strMap(m map[string]any, key string) map[string]string {
	out := map[string]string{}
	sub, _ := m[key].(map[string]any)
	for k, v := range sub {
		out[k], _ = v.(string)
	}
	return out
}
