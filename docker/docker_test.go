//go:build integration

package docker_test

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v2"
)

// Docker cannot run where the tests run, so these tests check what can be
// checked without it: Debian's docker-compose validates both compose files,
// every file they build from or mount exists, the pieces refer to each other
// by the right names and paths, and Prometheus's and chronyd's own checkers
// accept their configuration files.

const composeHint = "docker-compose is missing; install it with: apt-get install -y docker-compose (make test-deps does)"

var composeFiles = []string{"docker-compose.yml", "docker-compose.test.yml"}

// composeConfig is the part of `docker-compose config` output the tests
// read. Volumes are strings (short syntax, docker-compose 1.x) or maps
// (long syntax, docker compose 2.x).
type composeConfig struct {
	Services map[string]struct {
		Image string
		Build *struct {
			Context    string
			Dockerfile string
			Target     string
			Args       map[string]string
		}
		Command     any
		User        string
		GroupAdd    []string `yaml:"group_add"`
		DependsOn   any      `yaml:"depends_on"`
		Volumes     []any
		Environment map[string]string
	}
	Volumes map[string]any
}

type mount struct {
	source, target string
	bind           bool
}

func (c composeConfig) mounts(t *testing.T, service string) []mount {
	t.Helper()
	var ms []mount
	for _, v := range c.Services[service].Volumes {
		switch v := v.(type) {
		case string:
			f := strings.Split(v, ":")
			if len(f) < 2 {
				t.Fatalf("service %s: cannot read volume %q", service, v)
			}
			ms = append(ms, mount{source: f[0], target: f[1], bind: filepath.IsAbs(f[0]) || strings.HasPrefix(f[0], ".")})
		case map[any]any:
			ms = append(ms, mount{source: fmt.Sprint(v["source"]), target: fmt.Sprint(v["target"]), bind: v["type"] == "bind"})
		default:
			t.Fatalf("service %s: cannot read volume %#v", service, v)
		}
	}
	return ms
}

func (c composeConfig) mountFor(t *testing.T, service, target string) (mount, bool) {
	for _, m := range c.mounts(t, service) {
		if m.target == target {
			return m, true
		}
	}
	return mount{}, false
}

// loadCompose runs `docker-compose -f file config` and parses its output.
func loadCompose(t *testing.T, file string) composeConfig {
	t.Helper()
	return loadComposeEnv(t, file)
}

// loadComposeEnv is loadCompose with variables (NAME=value) set in
// docker-compose's environment.
func loadComposeEnv(t *testing.T, file string, env ...string) composeConfig {
	t.Helper()
	dc, err := exec.LookPath("docker-compose")
	if err != nil {
		t.Fatal(composeHint)
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(dc, "-f", abs, "config")
	// Only the defaults in the files, not whatever the environment sets.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "COMPOSE_") || strings.HasPrefix(kv, "CHRONY_") || strings.HasPrefix(kv, "DOCKER_")
	})
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("docker-compose -f %s config: %v\n%s%s", file, err, stderr.String(), stdout.String())
	}
	var c composeConfig
	if err := yaml.Unmarshal(stdout.Bytes(), &c); err != nil {
		t.Fatalf("reading docker-compose config output: %v\n%s", err, stdout.String())
	}
	if len(c.Services) == 0 {
		t.Fatalf("%s has no services:\n%s", file, stdout.String())
	}
	return c
}

// inRepo fails unless path is the repository root or inside it.
func inRepo(t *testing.T, what, path string) {
	t.Helper()
	rel, err := filepath.Rel(repoRoot(t), path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		t.Errorf("%s: %s is outside the repository", what, path)
	}
}

// dockerfileStages returns the stage names of a Dockerfile, and the source
// paths of its COPY instructions that copy from the build context.
func dockerfileStages(t *testing.T, path string) (stages, copies []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	from := regexp.MustCompile(`(?i)^FROM\s+\S+\s+AS\s+(\S+)\s*$`)
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if m := from.FindStringSubmatch(line); m != nil {
			stages = append(stages, m[1])
			continue
		}
		f := strings.Fields(line)
		if len(f) < 3 || !strings.EqualFold(f[0], "COPY") {
			continue
		}
		fromStage := false
		var args []string
		for _, a := range f[1:] {
			switch {
			case strings.HasPrefix(a, "--from="):
				fromStage = true
			case strings.HasPrefix(a, "--"):
			default:
				args = append(args, a)
			}
		}
		if !fromStage {
			copies = append(copies, args[:len(args)-1]...)
		}
	}
	return stages, copies
}

// TestComposeFiles validates both compose files with docker-compose and
// checks that everything they build from or mount exists in the repository.
func TestComposeFiles(t *testing.T) {
	for _, file := range composeFiles {
		t.Run(file, func(t *testing.T) {
			c := loadCompose(t, file)
			for name, s := range c.Services {
				if s.Build == nil && s.Image == "" {
					t.Errorf("service %s: neither build nor image", name)
				}
				if b := s.Build; b != nil {
					inRepo(t, "service "+name+" build context", b.Context)
					df := filepath.Join(b.Context, b.Dockerfile)
					if _, err := os.Stat(df); err != nil {
						t.Errorf("service %s: Dockerfile: %v", name, err)
						continue
					}
					stages, copies := dockerfileStages(t, df)
					if b.Target != "" && !slices.Contains(stages, b.Target) {
						t.Errorf("service %s: target %q is not a stage of %s (stages %v)", name, b.Target, df, stages)
					}
					for _, src := range copies {
						if _, err := os.Stat(filepath.Join(b.Context, src)); err != nil {
							t.Errorf("service %s: %s copies %s from the build context: %v", name, df, src, err)
						}
					}
				}
				for _, m := range c.mounts(t, name) {
					if !m.bind {
						if _, ok := c.Volumes[m.source]; !ok {
							t.Errorf("service %s mounts volume %q, which is not declared", name, m.source)
						}
						continue
					}
					inRepo(t, "service "+name+" mount", m.source)
					if _, err := os.Stat(m.source); err != nil {
						t.Errorf("service %s mounts %s: %v", name, m.source, err)
					}
				}
			}
		})
	}
}

// TestComposeStack checks that the services of docker-compose.yml find each
// other: the exporter shares chronyd's socket directory and user, Prometheus
// scrapes the exporter and loads the rules, and Grafana gets the dashboard
// and the data source where its provisioning files say.
func TestComposeStack(t *testing.T) {
	c := loadCompose(t, "docker-compose.yml")
	for _, s := range []string{"chronyd", "chrony_exporter", "prometheus", "grafana"} {
		if _, ok := c.Services[s]; !ok {
			t.Fatalf("docker-compose.yml has no %s service", s)
		}
	}

	// chronyd and the exporter share the socket directory as chronyd's
	// user (TestComposeChronydUser, TestChronydSocketDir).
	if df := readFile(t, "Dockerfile"); !regexp.MustCompile(`chronyd -d -x `).MatchString(df) {
		t.Errorf("the chronyd image must run chronyd -x (no clock privileges)")
	}

	// Prometheus: its configuration and the rules at the paths it reads.
	promConf, ok := c.mountFor(t, "prometheus", "/etc/prometheus/prometheus.yml")
	if !ok {
		t.Fatalf("prometheus.yml is not mounted at /etc/prometheus/prometheus.yml")
	}
	var pc struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string                       `yaml:"job_name"`
			StaticConfigs []struct{ Targets []string } `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal([]byte(readFile(t, promConf.source)), &pc); err != nil {
		t.Fatal(err)
	}
	rulesMount, ok := c.mountFor(t, "prometheus", "/etc/prometheus/rules")
	if !ok {
		t.Fatalf("../rules is not mounted at /etc/prometheus/rules")
	}
	if !slices.Contains(pc.RuleFiles, "/etc/prometheus/rules/chrony.rules.yml") {
		t.Errorf("prometheus.yml does not load /etc/prometheus/rules/chrony.rules.yml: %v", pc.RuleFiles)
	}
	if _, err := os.Stat(filepath.Join(rulesMount.source, "chrony.rules.yml")); err != nil {
		t.Errorf("the rules mount: %v", err)
	}
	scraped := false
	for _, sc := range pc.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			if slices.Contains(st.Targets, "chrony_exporter:9123") && strings.Contains(sc.JobName, "chrony") {
				scraped = true
			}
		}
	}
	if !scraped {
		t.Errorf("prometheus.yml does not scrape chrony_exporter:9123 in a job named *chrony*")
	}
	promtoolCheck(t, promConf.source, rulesMount.source)

	// Grafana: provisioning, the dashboards where the provider looks, and
	// the data source URL naming the Prometheus service.
	prov, ok := c.mountFor(t, "grafana", "/etc/grafana/provisioning")
	if !ok {
		t.Fatalf("grafana/provisioning is not mounted at /etc/grafana/provisioning")
	}
	var provider struct {
		Providers []struct{ Options struct{ Path string } }
	}
	if err := yaml.Unmarshal([]byte(readFile(t, filepath.Join(prov.source, "dashboards", "chrony.yml"))), &provider); err != nil {
		t.Fatal(err)
	}
	if len(provider.Providers) == 0 {
		t.Fatalf("no dashboard provider in grafana/provisioning/dashboards/chrony.yml")
	}
	dashPath := provider.Providers[0].Options.Path
	dash, ok := c.mountFor(t, "grafana", dashPath)
	if !ok {
		t.Errorf("nothing is mounted at %s, where the dashboard provider looks", dashPath)
	} else if _, err := os.Stat(filepath.Join(dash.source, "chrony.json")); err != nil {
		t.Errorf("the dashboards mount: %v", err)
	}
	if home := c.Services["grafana"].Environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]; home != "" && !strings.HasPrefix(home, dashPath+"/") {
		t.Errorf("the home dashboard %s is not under %s", home, dashPath)
	}
	var ds struct {
		Datasources []struct{ Type, URL string }
	}
	if err := yaml.Unmarshal([]byte(readFile(t, filepath.Join(prov.source, "datasources", "prometheus.yml"))), &ds); err != nil {
		t.Fatal(err)
	}
	for _, d := range ds.Datasources {
		if d.Type != "prometheus" {
			continue
		}
		u, err := url.Parse(d.URL)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := c.Services[u.Hostname()]; !ok || u.Port() != "9090" {
			t.Errorf("the Grafana data source %s is not the compose service prometheus:9090", d.URL)
		}
	}
}

// TestComposeTest checks that docker-compose.test.yml runs make test on
// this checkout, in the image target that has chrony and promtool.
func TestComposeTest(t *testing.T) {
	c := loadCompose(t, "docker-compose.test.yml")
	s, ok := c.Services["test"]
	if !ok {
		t.Fatal("docker-compose.test.yml has no test service")
	}
	if got := fmt.Sprint(s.Command); got != "[make test]" {
		t.Errorf("the test service runs %s, want make test", got)
	}
	src, ok := c.mountFor(t, "test", "/src")
	if !ok || src.source != repoRoot(t) {
		t.Errorf("the repository is not mounted at /src: %+v", src)
	}
	df := readFile(t, filepath.Join(s.Build.Context, s.Build.Dockerfile))
	stage := regexp.MustCompile(`(?s)FROM (\S+) AS ` + regexp.QuoteMeta(s.Build.Target) + `\n(.*?)(\nFROM |$)`).FindStringSubmatch(df)
	if stage == nil {
		t.Fatalf("no stage %s in the Dockerfile", s.Build.Target)
	}
	if !strings.Contains(stage[1], "bookworm") && !strings.HasPrefix(stage[1], "debian:12") {
		t.Errorf("the test image %s is not Debian 12", stage[1])
	}
	for _, pkg := range []string{"chrony", "prometheus"} {
		if !regexp.MustCompile(`\b` + pkg + `\b`).MatchString(stage[2]) {
			t.Errorf("the test image does not install %s", pkg)
		}
	}
}

// TestChronyConf has chronyd parse docker/chrony.conf.
func TestChronyConf(t *testing.T) {
	chronyd, err := exec.LookPath("chronyd")
	if err != nil {
		chronyd = "/usr/sbin/chronyd"
		if _, err := os.Stat(chronyd); err != nil {
			t.Fatal("chronyd is missing; install it with: apt-get install -y chrony (make test-deps does)")
		}
	}
	out, err := exec.Command(chronyd, "-p", "-f", "chrony.conf").CombinedOutput()
	if err != nil {
		t.Fatalf("chronyd -p -f docker/chrony.conf: %v\n%s", err, out)
	}
}

// promtoolCheck runs promtool check config on prometheus.yml, with the
// container's rule path replaced by the repository's.
func promtoolCheck(t *testing.T, config, rulesDir string) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is missing; install it with: apt-get install -y prometheus (make test-deps does)")
	}
	text := strings.ReplaceAll(readFile(t, config), "/etc/prometheus/rules/", rulesDir+"/")
	tmp := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "config", tmp).CombinedOutput(); err != nil {
		t.Errorf("promtool check config docker/prometheus.yml: %v\n%s", err, out)
	}
}

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	stage string // the stage's name; "" before the first FROM
	cmd   string // upper case: FROM, ARG, RUN, …
	args  string
}

// dockerfileInstructions reads a Dockerfile into its instructions, without
// comments.
func dockerfileInstructions(t *testing.T, path string) []instruction {
	t.Helper()
	var (
		out   []instruction
		stage string
		cur   strings.Builder
	)
	from := regexp.MustCompile(`(?i)^\S+\s+AS\s+(\S+)$`)
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		cmd, args, _ := strings.Cut(line, " ")
		cmd = strings.ToUpper(cmd)
		args = strings.TrimSpace(args)
		if cmd == "FROM" {
			stage = ""
			if m := from.FindStringSubmatch(args); m != nil {
				stage = m[1]
			}
		}
		out = append(out, instruction{stage: stage, cmd: cmd, args: args})
	}
	for _, line := range strings.Split(readFile(t, path), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if body, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	flush()
	return out
}

// stageArgs returns the names of the ARGs a stage declares and, for stage
// "", their defaults.
func stageArgs(ins []instruction, stage string) map[string]string {
	args := map[string]string{}
	for _, in := range ins {
		if in.stage != stage || in.cmd != "ARG" {
			continue
		}
		name, def, _ := strings.Cut(in.args, "=")
		args[name] = def
	}
	return args
}

// lastStage returns the name of a Dockerfile's last stage: what it builds
// without a target.
func lastStage(ins []instruction) string {
	stage := ""
	for _, in := range ins {
		if in.cmd == "FROM" {
			stage = in.stage
		}
	}
	return stage
}

// expandArgs replaces $NAME and ${NAME} by their values.
func expandArgs(s string, args map[string]string) string {
	return os.Expand(s, func(name string) string { return args[name] })
}

// TestComposeChronydUser checks that chronyd and the exporter run as one
// uid and gid, the same in the Dockerfile's defaults, the chronyd stage's
// _chrony, the exporter image's USER and docker-compose.yml, and that the
// environment changes all of them at once. chronyd keeps its socket
// directory (0750) and socket (0755) to its own user: a shared group is not
// enough.
func TestComposeChronydUser(t *testing.T) {
	ins := dockerfileInstructions(t, "Dockerfile")
	global := stageArgs(ins, "")
	uid, gid := global["CHRONY_UID"], global["CHRONY_GID"]
	if !regexp.MustCompile(`^[1-9][0-9]*$`).MatchString(uid) || !regexp.MustCompile(`^[1-9][0-9]*$`).MatchString(gid) {
		t.Fatalf("the Dockerfile's global ARG CHRONY_UID=%q and CHRONY_GID=%q must default to non-root numeric ids", uid, gid)
	}

	// Each stage that uses the ids declares the ARGs (without that, a
	// global ARG is empty inside a stage).
	exporter := lastStage(ins)
	for _, stage := range []string{"chronyd", exporter} {
		a := stageArgs(ins, stage)
		for _, name := range []string{"CHRONY_UID", "CHRONY_GID"} {
			if v, ok := a[name]; !ok || v != "" {
				t.Errorf("stage %s must take ARG %s from the global default (has %q, declared %v)", stage, name, v, ok)
			}
		}
	}

	// The chronyd stage gives _chrony the ids, and runs chronyd as _chrony.
	usermod := regexp.MustCompile(`\busermod\s+-u\s+"?\$\{?CHRONY_UID\}?"?\s+-g\s+"?\$\{?CHRONY_GID\}?"?\s+_chrony\b`)
	groupmod := regexp.MustCompile(`\bgroupmod\s+-g\s+"?\$\{?CHRONY_GID\}?"?\s+_chrony\b`)
	var sawUsermod, sawGroupmod, sawDropToChrony bool
	for _, in := range ins {
		if in.stage != "chronyd" {
			continue
		}
		switch in.cmd {
		case "RUN":
			sawUsermod = sawUsermod || usermod.MatchString(in.args)
			sawGroupmod = sawGroupmod || groupmod.MatchString(in.args)
		case "ENTRYPOINT", "CMD":
			sawDropToChrony = sawDropToChrony || strings.Contains(in.args, "chronyd -d -x -u _chrony ")
		}
	}
	if !sawUsermod || !sawGroupmod {
		t.Errorf("the chronyd stage must give _chrony CHRONY_UID and CHRONY_GID (usermod %v, groupmod %v)", sawUsermod, sawGroupmod)
	}
	if !sawDropToChrony {
		t.Errorf("the chronyd stage must run chronyd -d -x -u _chrony")
	}

	// The exporter image's user: its last USER, the ids' defaults.
	var user string
	for _, in := range ins {
		if in.stage == exporter && in.cmd == "USER" {
			user = in.args
		}
	}
	want := uid + ":" + gid
	if got := expandArgs(user, global); got != want {
		t.Errorf("the exporter image's USER %q is %q, want chronyd's %s", user, got, want)
	}

	// docker-compose.yml: by default the Dockerfile's ids, and whatever the
	// environment sets, for both images and the exporter's user.
	for _, ids := range [][2]string{{uid, gid}, {"2001", "2002"}} {
		var env []string
		if ids[0] != uid {
			env = []string{"CHRONY_UID=" + ids[0], "CHRONY_GID=" + ids[1]}
		}
		c := loadComposeEnv(t, "docker-compose.yml", env...)
		for _, name := range []string{"chronyd", "chrony_exporter"} {
			s := c.Services[name]
			if s.Build == nil {
				t.Fatalf("service %s: no build", name)
			}
			if s.Build.Args["CHRONY_UID"] != ids[0] || s.Build.Args["CHRONY_GID"] != ids[1] {
				t.Errorf("env %v: service %s builds with %v, want CHRONY_UID=%s CHRONY_GID=%s", env, name, s.Build.Args, ids[0], ids[1])
			}
			if len(s.GroupAdd) > 0 {
				t.Errorf("env %v: service %s: group_add %v is left; chronyd's group cannot use its socket", env, name, s.GroupAdd)
			}
		}
		if got := c.Services["chrony_exporter"].User; got != ids[0]+":"+ids[1] {
			t.Errorf("env %v: the exporter runs as %q, want chronyd's %s:%s", env, got, ids[0], ids[1])
		}
		if u := c.Services["chronyd"].User; u != "" {
			t.Errorf("chronyd runs as %q; it must start as root to drop to _chrony itself", u)
		}
	}
}

// TestChronydSocketDir checks the socket's way from chronyd to the
// exporter: one named volume at the directory of chrony.conf's
// bindcmdaddress in both services, the exporter's --chrony.address naming
// that socket, and the directory made as chronyd makes it (owned by _chrony,
// mode 0750) by both the image and the entrypoint, with no mode opened up.
func TestChronydSocketDir(t *testing.T) {
	c := loadCompose(t, "docker-compose.yml")
	m := regexp.MustCompile(`(?m)^bindcmdaddress\s+(/\S+)\s*$`).FindStringSubmatch(readFile(t, "chrony.conf"))
	if m == nil {
		t.Fatal("chrony.conf has no bindcmdaddress with a socket path")
	}
	sock := m[1]
	dir := filepath.Dir(sock)
	if dir != "/run/chrony" {
		t.Errorf("chronyd's socket %s is not in /run/chrony", sock)
	}
	chronyRun, ok1 := c.mountFor(t, "chronyd", dir)
	expRun, ok2 := c.mountFor(t, "chrony_exporter", dir)
	if !ok1 || !ok2 || chronyRun.source != expRun.source || chronyRun.bind {
		t.Errorf("chronyd and the exporter must share a named volume at %s: %+v, %+v", dir, chronyRun, expRun)
	}
	args, _ := c.Services["chrony_exporter"].Command.([]any)
	if !slices.Contains(args, any("--chrony.address=unix://"+sock)) {
		t.Errorf("the exporter's command %v does not have --chrony.address=unix://%s", c.Services["chrony_exporter"].Command, sock)
	}
	// Docker fills a new volume from the image of the first container that
	// mounts it: that must be chronyd's.
	if deps := fmt.Sprint(c.Services["chrony_exporter"].DependsOn); !strings.Contains(deps, "chronyd") {
		t.Errorf("the exporter does not depend on chronyd: %s", deps)
	}

	// In the chronyd stage, every install of the directory makes it
	// _chrony's with mode 0750, in the image (for a new volume) and in the
	// entrypoint (for an older one).
	ins := dockerfileInstructions(t, "Dockerfile")
	installDir := regexp.MustCompile(`\binstall\s+-d\s+([^&;"]*?)\s*` + regexp.QuoteMeta(dir) + `\b`)
	made := map[string]bool{}
	for _, in := range ins {
		if in.stage != "chronyd" {
			continue
		}
		for _, im := range installDir.FindAllStringSubmatch(in.args, -1) {
			opts := " " + im[1] + " "
			if !strings.Contains(opts, " -o _chrony ") || !strings.Contains(opts, " -g _chrony ") || !strings.Contains(opts, " -m 0750 ") {
				t.Errorf("%s %s: %s must be made -o _chrony -g _chrony -m 0750, as chronyd makes it", in.cmd, im[0], dir)
			}
			made[in.cmd] = true
		}
	}
	if !made["RUN"] || !made["ENTRYPOINT"] {
		t.Errorf("the chronyd stage must make %s in the image (RUN) and in the ENTRYPOINT; made in %v", dir, made)
	}

	// No workaround of the group era is left outside comments: a wider
	// mode, a chmod, or an added group.
	wide := regexp.MustCompile(`\b0?77[0-7]\b|\bchmod\b|\b[ago]*[go][ago]*\+[rwx]*w|group_add|--group-add`)
	for _, file := range []string{"Dockerfile", "docker-compose.yml", "chrony.conf"} {
		for i, line := range strings.Split(readFile(t, file), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			if w := wide.FindString(line); w != "" {
				t.Errorf("%s:%d: %q: chronyd's socket is for its own user; run as that user instead", file, i+1, w)
			}
		}
	}
}
