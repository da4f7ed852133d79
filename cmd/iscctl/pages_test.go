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
	defer c.Close()
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

// Three jobs, one a page: jobs list --limit 1 prints the command of the
// next page after each full one, and following them lists each job once,
// newest first; the SDK's Jobs pages the same way over the session.
func TestJobsPages(t *testing.T) {
	srv, env := start(t) // dev mode: CalculiX and a worker in iscd
	c := client(t, srv)
	var ids []string
	for range 3 {
		res, err := c.Solve(context.Background(), beam, sdk.SolveOptions{})
		if err != nil {
			t.Fatalf("solve: %v", err)
		}
		ids = append([]string{res.JobID}, ids...) // newest first
	}

	var got []string
	args := []string{"jobs", "list", "--limit", "1"}
	for range 5 {
		r := ok(t, env, args...)
		if rows := table(t, r.stdout); len(rows) == 2 {
			got = append(got, rows[1][0])
		}
		m := regexp.MustCompile(`^more: iscctl jobs list --limit 1 --cursor '([^']*)'\n$`).FindStringSubmatch(r.stderr)
		if m == nil {
			break
		}
		args = []string{"jobs", "list", "--limit", "1", "--cursor", m[1]}
	}
	if strings.Join(got, " ") != strings.Join(ids, " ") {
		t.Errorf("iscctl jobs list pages: %v, want %v", got, ids)
	}

	got = got[:0]
	for cursor := ""; ; {
		p, err := c.Jobs(context.Background(), cursor, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range p.Jobs {
			got = append(got, j.ID)
		}
		if cursor = p.Next; cursor == "" || len(got) > 3 {
			break
		}
	}
	if strings.Join(got, " ") != strings.Join(ids, " ") {
		t.Errorf("sdk Jobs pages: %v, want %v", got, ids)
	}
}
