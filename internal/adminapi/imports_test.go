package adminapi_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The admin API's clients (iscctl, and this package itself) speak its
// wire types only: they import no storage package and no part of the
// server, so a storage record, with its hashes, cannot become an answer
// again, and the server's packages can change without the clients.
func TestClientsImportNoServerPackage(t *testing.T) {
	const module = "github.com/iscsdk/iscsdk"
	forbidden := []string{module + "/internal/store", module + "/internal/server"}
	deps := func(pkgs ...string) map[string][]string { // package -> what it imports
		t.Helper()
		args := append([]string{"list", "-deps", "-f", "{{.ImportPath}} {{join .Imports \" \"}}"}, pkgs...)
		cmd := exec.Command("go", args...)
		cmd.Dir = "../.."
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go %s: %v", strings.Join(args, " "), err)
		}
		m := map[string][]string{}
		for line := range strings.Lines(string(out)) {
			f := strings.Fields(line)
			m[f[0]] = f[1:]
		}
		return m
	}
	bad := func(pkg string) bool {
		for _, f := range forbidden {
			if pkg == f || strings.HasPrefix(pkg, f+"/") {
				return true
			}
		}
		return false
	}
	// The rule sees what it is to see: the admin handlers are server
	// packages and import the store.
	if d := deps("./internal/server/admin"); !bad(module+"/internal/server/admin") || d[module+"/internal/store"] == nil {
		t.Fatalf("go list -deps ./internal/server/admin: no %s among %d packages; the check below would see nothing", module+"/internal/store", len(d))
	}
	for pkg, imports := range deps("./cmd/iscctl", "./internal/adminapi") {
		for _, imp := range imports {
			if bad(imp) {
				t.Errorf("%s imports %s: a client of the admin API imports no storage or server package", pkg, imp)
			}
		}
	}
}
