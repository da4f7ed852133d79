package deploy

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// root is the repository's top directory.
const root = "../.."

var chart = filepath.Join(root, "deploy", "helm", "iscd")

// valueFiles are the chart's sizes, each tested alone ("" is values.yaml).
var valueFiles = []string{"", "sizes/trial.yaml", "sizes/team.yaml", "sizes/company.yaml"}

// buildDir is where make put the binaries, images' root file systems and
// tools ($ISCSDK_BUILD_DIR, else ../../build).
func buildDir(t testing.TB) string {
	if d := os.Getenv("ISCSDK_BUILD_DIR"); d != "" {
		return d
	}
	d, err := filepath.Abs(filepath.Join(root, "build"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// skip skips a test that lacks something this machine may not have, in
// capitals so it is seen, and fails it instead under make test-deploy in
// CI, where everything must be there.
func skip(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" && os.Getenv("ISCD_TEST_DEPLOY") == "1" {
		t.Fatalf("NOT RUN in CI: "+format, args...)
	}
	t.Skipf("SKIPPED: "+format, args...)
}

// tool is build/tools/NAME, installed by make deploy-tools.
func tool(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(buildDir(t), "tools", name)
	if _, err := os.Stat(p); err != nil {
		skip(t, "%s is not in build/tools (make deploy-tools)", name)
	}
	return p
}

// run runs a command and returns its standard output; it fails the test,
// with the command's errors, if the command fails.
func run(t testing.TB, stdin io.Reader, name string, args ...string) string {
	t.Helper()
	out, err := tryRun(stdin, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v", filepath.Base(name), strings.Join(args, " "), err)
	}
	return out
}

func tryRun(stdin io.Reader, name string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), errors.Join(err, errors.New(strings.TrimSpace(stderr.String()+"\n"+stdout.String())))
	}
	return stdout.String(), nil
}

// helmTemplate renders the chart as release "iscd" with a values file
// ("" for the defaults) and --set values.
func helmTemplate(t testing.TB, values string, set ...string) string {
	t.Helper()
	args := []string{"template", "iscd", chart}
	if values != "" {
		args = append(args, "-f", filepath.Join(chart, values))
	}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	return run(t, nil, tool(t, "helm"), args...)
}

// object is one manifest, as YAML decodes it.
type object map[string]any

func (o object) kind() string { return str(o, "kind") }
func (o object) name() string { return str(o, "metadata", "name") }

// objects decodes a stream of manifests.
func objects(t testing.TB, manifests string) []object {
	t.Helper()
	dec := yaml.NewDecoder(strings.NewReader(manifests))
	var out []object
	for {
		var o object
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("rendered manifests: %v", err)
		}
		if o != nil {
			out = append(out, o)
		}
	}
}

// find returns the object of a kind and name, failing the test without one.
func find(t testing.TB, objs []object, kind, name string) object {
	t.Helper()
	for _, o := range objs {
		if o.kind() == kind && o.name() == name {
			return o
		}
	}
	t.Fatalf("no %s %s in the rendered manifests", kind, name)
	return nil
}

// get walks maps by key and lists by index (int).
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := asMap(v)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// asMap: YAML decodes the maps inside an object as objects.
func asMap(v any) (map[string]any, bool) {
	switch m := v.(type) {
	case map[string]any:
		return m, true
	case object:
		return m, true
	}
	return nil, false
}

func str(v any, path ...any) string {
	s, _ := get(v, path...).(string)
	return s
}

func list(v any, path ...any) []any {
	l, _ := get(v, path...).([]any)
	return l
}
