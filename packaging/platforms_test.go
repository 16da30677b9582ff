package packaging

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v2"
)

// makefilePlatforms returns the Makefile's PLATFORMS, the platforms
// `make release` builds.
func makefilePlatforms(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^PLATFORMS\s*\??=\s*(.+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("the Makefile sets no PLATFORMS")
	}
	return strings.Fields(string(m[1]))
}

// TestPlatformsMatchPromu checks that `make release` and promu build the
// same platforms.
func TestPlatformsMatchPromu(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", ".promu.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var promu struct {
		Crossbuild struct {
			Platforms []string `yaml:"platforms"`
		} `yaml:"crossbuild"`
	}
	if err := yaml.Unmarshal(b, &promu); err != nil {
		t.Fatalf(".promu.yml: %v", err)
	}
	want := []string{"linux/amd64", "linux/arm64", "linux/armv7", "freebsd/amd64"}
	got := makefilePlatforms(t)
	if !slices.Equal(got, want) {
		t.Errorf("Makefile PLATFORMS = %v, want %v", got, want)
	}
	if !slices.Equal(promu.Crossbuild.Platforms, got) {
		t.Errorf(".promu.yml crossbuild platforms = %v, the Makefile's PLATFORMS = %v", promu.Crossbuild.Platforms, got)
	}
}
