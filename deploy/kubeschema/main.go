// Command kubeschema writes the JSON schemas that kubeconform validates the
// Helm chart's manifests against (make test-deploy), from the Kubernetes
// API's own OpenAPI v2 document: api/openapi-spec/swagger.json of the
// k8s.io/kubernetes module, which the Go module proxy serves at a pinned
// version (make deploy-tools). No schema repository is reachable from
// these machines; this is what its converter does, for the kinds asked.
//
//	kubeschema -spec swagger.json -out DIR
//
// writes one standalone schema per kind (every $ref inlined) in DIR, named
// as kubeconform's default location names them: KIND-GROUP-VERSION.json
// (KIND-VERSION.json for the core group; GROUP is its first label). The
// schemas are strict: an object admits no property the API does not
// define, so a misspelt or misplaced field fails validation. As the API
// server does, a field may be null, an int-or-string either, and a
// quantity a string or a number.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

const quantity = "io.k8s.apimachinery.pkg.api.resource.Quantity"

func main() {
	spec := flag.String("spec", "", "the Kubernetes OpenAPI v2 document (swagger.json)")
	out := flag.String("out", "", "the directory to write the schemas to")
	flag.Parse()
	if *spec == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: kubeschema -spec swagger.json -out DIR")
		os.Exit(2)
	}
	n, err := write(*spec, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubeschema:", err)
		os.Exit(1)
	}
	fmt.Printf("kubeschema: %d schemas in %s\n", n, *out)
}

type gvk struct{ Group, Version, Kind string }

func write(specPath, out string) (int, error) {
	b, err := os.ReadFile(specPath)
	if err != nil {
		return 0, err
	}
	var doc struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return 0, fmt.Errorf("%s: %w", specPath, err)
	}
	if len(doc.Definitions) == 0 {
		return 0, fmt.Errorf("%s: no definitions", specPath)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return 0, err
	}
	c := converter{defs: doc.Definitions, seen: map[string]bool{}}
	n := 0
	for name, def := range doc.Definitions {
		kinds, err := kindsOf(def)
		if err != nil {
			return n, fmt.Errorf("%s: %w", name, err)
		}
		if len(kinds) == 0 {
			continue
		}
		c.seen[name] = true
		s := c.convert(def).(map[string]any)
		delete(c.seen, name)
		s["$schema"] = "http://json-schema.org/schema#"
		body, err := json.Marshal(s)
		if err != nil {
			return n, err
		}
		for _, k := range kinds {
			if err := os.WriteFile(filepath.Join(out, fileName(k)), body, 0o644); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// kindsOf reads a definition's x-kubernetes-group-version-kind: the kinds
// it is the schema of (none for the types inside them).
func kindsOf(def map[string]any) ([]gvk, error) {
	raw, ok := def["x-kubernetes-group-version-kind"]
	if !ok {
		return nil, nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	var kinds []gvk
	return kinds, json.Unmarshal(b, &kinds)
}

// fileName is kubeconform's name for a kind's schema (its registry's
// ResourceKind and KindSuffix).
func fileName(k gvk) string {
	name := strings.ToLower(k.Kind)
	if k.Group != "" {
		name += "-" + strings.ToLower(strings.Split(k.Group, ".")[0])
	}
	return name + "-" + strings.ToLower(k.Version) + ".json"
}

type converter struct {
	defs map[string]map[string]any
	seen map[string]bool // the definitions being inlined: a cycle admits anything
}

func (c converter) convert(v any) any {
	switch v := v.(type) {
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = c.convert(e)
		}
		return out
	case map[string]any:
		return c.object(v)
	}
	return v
}

func (c converter) object(s map[string]any) any {
	if ref, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/definitions/")
		switch {
		case name == quantity:
			return nullable(map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "number"}}})
		case c.seen[name]:
			return map[string]any{}
		case c.defs[name] == nil:
			return map[string]any{}
		}
		c.seen[name] = true
		defer delete(c.seen, name)
		return c.object(c.defs[name])
	}
	if s["format"] == "int-or-string" || s["x-kubernetes-int-or-string"] == true {
		return nullable(map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}})
	}
	out := map[string]any{}
	for k, v := range s {
		switch {
		case k == "description" || strings.HasPrefix(k, "x-kubernetes-"):
			// not needed to validate; they make the schemas several times larger
		case k == "properties":
			props := map[string]any{}
			for name, p := range v.(map[string]any) {
				props[name] = c.convert(p)
			}
			out[k] = props
		case k == "type":
			if t, ok := v.(string); ok {
				out[k] = []any{t, "null"}
			} else {
				out[k] = v
			}
		default:
			out[k] = c.convert(v)
		}
	}
	if _, ok := out["properties"]; ok {
		if _, set := out["additionalProperties"]; !set {
			out["additionalProperties"] = false
		}
	}
	return out
}

func nullable(s map[string]any) map[string]any {
	s["oneOf"] = append(s["oneOf"].([]any), map[string]any{"type": "null"})
	return s
}
