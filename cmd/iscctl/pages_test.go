package main

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/sdk"
)

var moreLine = regexp.MustCompile(`^more: iscctl (\S+) (\S+) --cursor '([^']*)'\n$`)

// A folder of 1,100 long names (more than 1 MiB at once): ls reads every
// page; with --limit it shows one and prints the command of the next, and
// following those shows every file once.
func TestLsPages(t *testing.T) {
	srv, env := startFiles(t)
	c, err := sdk.Init(context.Background(), sdk.Config{
		Endpoint: srv.Endpoint, Token: srv.APIToken, ProductID: srv.Product, AppVersion: "1.0.0",
		WorkspaceDir: t.TempDir(), CredentialsFile: filepath.Join(t.TempDir(), "none"), ConnectTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.ShutOut()
	servertest.FillFolder(t, c, "/pages", 1100)

	if l := decodeJSON[sdk.Listing](t, ok(t, env, "ls", "/pages", "--json").stdout); len(l.Files) != 1100 || l.Next != "" {
		t.Fatalf("ls --json: %d files, next %q", len(l.Files), l.Next)
	}
	if rows := table(t, ok(t, env, "ls", "/pages").stdout); len(rows) != 1101 {
		t.Fatalf("ls: %d rows, want a header and 1,100", len(rows))
	}

	seen := map[string]bool{}
	args := []string{"ls", "/pages", "--limit", "400"}
	for pages := 1; ; pages++ {
		r := ok(t, env, args...)
		rows := table(t, r.stdout)[1:]
		for _, row := range rows {
			if seen[row[0]] {
				t.Fatalf("page %d shows %s again", pages, row[0])
			}
			seen[row[0]] = true
		}
		m := moreLine.FindStringSubmatch(r.stderr)
		if m == nil {
			if r.stderr != "" || pages != 3 || len(rows) != 300 {
				t.Fatalf("last page %d of %d rows, stderr %q", pages, len(rows), r.stderr)
			}
			break
		}
		if len(rows) != 400 || m[1] != "ls" || m[2] != "/pages" {
			t.Fatalf("page %d: %d rows, stderr %q", pages, len(rows), r.stderr)
		}
		args = []string{"ls", "/pages", "--limit", "400", "--cursor", m[3]}
	}
	if len(seen) != 1100 || !seen[servertest.LongName(0)] || !seen[servertest.LongName(1099)] {
		t.Fatalf("the pages showed %d names", len(seen))
	}

	// One page of a history; a bad limit is refused before connecting.
	name := "/pages/" + servertest.LongName(7)
	r := ok(t, env, "history", name, "--limit", "1")
	if rows := table(t, r.stdout); len(rows) != 2 || rows[1][0] != "1" || r.stderr != "" {
		t.Fatalf("history --limit 1: %q %q", r.stdout, r.stderr)
	}
	fails(t, env, exitUsage, []string{"--limit", "from 1 to 1000"}, "ls", "/pages", "--limit", "0")
	fails(t, env, exitUsage, []string{"--limit"}, "history", name, "--limit", "5000")
	if !strings.Contains(ok(t, env, "ls", "--help").stdout+ok(t, env, "ls", "--help").stderr, "--cursor") {
		t.Error("ls --help does not mention --cursor")
	}
}
