// Package mixin renders the chrony monitoring mixin (mixin.libsonnet and the
// files it imports) into the Grafana dashboard and the Prometheus rule file
// this repository ships, so that both come from one source.
package mixin

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/google/go-jsonnet"
)

// Source holds the mixin's jsonnet files, as jsonnet-bundler users get them.
//
//go:embed *.libsonnet dashboards/*.libsonnet lib/*.libsonnet
var Source embed.FS

// The files the rendering writes, relative to the repository's root.
const (
	DashboardFile = "grafana/dashboards/chrony.json"
	RulesFile     = "rules/chrony.rules.yml"
)

// Rendered is the mixin's output for one _config.
type Rendered struct {
	// Dashboards maps a file name to the dashboard's JSON, indented by two
	// spaces as Grafana exports it.
	Dashboards map[string][]byte
	// Rules is the rule file: the recording rules' groups, then the alerts'.
	Rules []byte
	// Groups is the same rules as data, for tests.
	Groups []Group
}

// Group is a Prometheus rule group.
type Group struct {
	Name  string `json:"name"`
	Rules []Rule `json:"rules"`
}

// Rule is a recording or alerting rule.
type Rule struct {
	Record      string            `json:"record,omitempty"`
	Alert       string            `json:"alert,omitempty"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Render evaluates the mixin with config, a jsonnet object added to _config
// ("" for the defaults), as a user of the mixin would override it.
func Render(config string) (*Rendered, error) {
	if strings.TrimSpace(config) == "" {
		config = "{}"
	}
	vm := jsonnet.MakeVM()
	vm.Importer(&fsImporter{fsys: Source, cache: map[string]jsonnet.Contents{}})
	out, err := vm.EvaluateAnonymousSnippet("render.jsonnet", `
local mixin = (import 'mixin.libsonnet') + { _config+:: `+config+` };
{
  dashboards: mixin.grafanaDashboards,
  groups: mixin.prometheusRules.groups + mixin.prometheusAlerts.groups,
}`)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Dashboards map[string]json.RawMessage `json:"dashboards"`
		Groups     []Group                    `json:"groups"`
	}
	// A rule field Rule does not know would be dropped from the YAML, so it
	// is an error.
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("reading the mixin's output: %w", err)
	}
	r := &Rendered{Dashboards: map[string][]byte{}, Groups: doc.Groups}
	for name, raw := range doc.Dashboards {
		// Decoded and encoded again, so that numbers take their shortest
		// form (jsonnet writes 0.05 as 0.050000000000000003). Keys stay
		// sorted, as jsonnet sorts them.
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return nil, err
		}
		r.Dashboards[name] = b.Bytes()
	}
	if r.Rules, err = rulesYAML(doc.Groups); err != nil {
		return nil, err
	}
	return r, nil
}

// fsImporter resolves imports relative to the importing file, inside fsys,
// as the jsonnet command does on disk.
type fsImporter struct {
	fsys  fs.FS
	cache map[string]jsonnet.Contents
}

// Import implements jsonnet.Importer.
func (i *fsImporter) Import(importedFrom, importedPath string) (jsonnet.Contents, string, error) {
	name := path.Clean(path.Join(path.Dir(importedFrom), importedPath))
	if c, ok := i.cache[name]; ok {
		return c, name, nil
	}
	b, err := fs.ReadFile(i.fsys, name)
	if err != nil {
		return jsonnet.Contents{}, "", err
	}
	// jsonnet requires the same Contents for every import of a file.
	c := jsonnet.MakeContents(string(b))
	i.cache[name] = c
	return c, name, nil
}
