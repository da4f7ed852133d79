package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iscsdk/iscsdk/internal/store/pgstore/pgtest"
	"github.com/iscsdk/iscsdk/sdk"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestDBFlagErrors(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("\n"), 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--db-password-file", pw}, "--db-password-file needs --db"},
		{[]string{"serve", "--db", "mysql://u:hunter2@h/db"}, "want a postgres:// URL"},
		{[]string{"serve", "--db", "postgres://u@h/db", "--db-password-file", pw}, "is empty"},
		{[]string{"serve", "--db", "postgres://u@h/db", "--db-password-file", pw + ".missing"}, "--db-password-file"},
		{[]string{"migrate"}, "--db is needed"},
	} {
		var out, errb bytes.Buffer
		err := run(tc.args, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("iscd %v: err = %v, want %q", tc.args, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("iscd %v: the password is in the error: %v", tc.args, err)
		}
	}
}

// iscd on PostgreSQL: migrate applies the schema once, two replicas share
// the data (a file saved through one opens through the other), and no
// password, from the URL or from a file, reaches the log.
func TestServeWithPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs iscd and PostgreSQL")
	}
	dsn := pgtest.DSN(t)
	// The test server trusts local connections: the passwords are not
	// checked, only kept out of sight.
	withPassword := strings.Replace(dsn, "postgres://postgres@", "postgres://postgres:url-secret-42@", 1)
	pwFile := filepath.Join(t.TempDir(), "db-password")
	os.WriteFile(pwFile, []byte("file-secret-43\n"), 0o600)

	migrate := func() string {
		out, err := exec.Command(binary(t), "migrate", "--db", withPassword).CombinedOutput()
		if err != nil {
			t.Fatalf("iscd migrate: %v\n%s", err, out)
		}
		if strings.Contains(string(out), "url-secret-42") {
			t.Fatalf("iscd migrate printed the password:\n%s", out)
		}
		return string(out)
	}
	if out := migrate(); !strings.Contains(out, "applied migrations [1 2") {
		t.Fatalf("first migrate: %s", out)
	}
	if out := migrate(); !strings.Contains(out, "up to date") {
		t.Fatalf("second migrate: %s", out)
	}

	// Replicas share the KEK that seals the signing keys: one from the
	// file, the other from $ISCD_KEK.
	kekFile := filepath.Join(t.TempDir(), "iscd.kek")
	if out, err := exec.Command(binary(t), "kek", "generate", "--out", kekFile).CombinedOutput(); err != nil {
		t.Fatalf("iscd kek generate: %v\n%s", err, out)
	}
	kek, _ := os.ReadFile(kekFile)
	dataA := t.TempDir()
	a := startIscd(t, dataA, nil, "--db", withPassword, "--kek-file", kekFile)
	b := startIscd(t, t.TempDir(), []string{"ISCD_DB=" + dsn, "ISCD_KEK=" + strings.TrimSpace(string(kek))}, "--db-password-file", pwFile)
	ctx := context.Background()
	ca, cb := a.client(t), b.client(t)
	local := filepath.Join(t.TempDir(), "bracket.prt")
	os.WriteFile(local, []byte("a bracket"), 0o644)
	if res, err := ca.SaveTo(ctx, local, "/pg/bracket.prt", 0, sdk.SaveOptions{}); err != nil || res.Version != 1 {
		t.Fatalf("save through A: %+v %v", res, err)
	}
	// B has no access to A's chunks (each keeps them in its data
	// directory here), but it sees the file and its history.
	files, err := cb.List(ctx, "/pg")
	if err != nil || len(files.Files) != 1 || files.Files[0].Version != 1 {
		t.Fatalf("listing through B: %+v %v", files, err)
	}
	a.stop()
	b.stop()
	for _, p := range []*iscd{a, b} {
		logs := p.log()
		if strings.Contains(logs, "url-secret-42") || strings.Contains(logs, "file-secret-43") {
			t.Fatalf("iscd logged a database password:\n%s", logs)
		}
		if !strings.Contains(logs, `"postgres":"postgres://`) {
			t.Errorf("iscd did not log which database it uses:\n%s", logs)
		}
	}

	// iscd gc on the database: it finds A's chunk and deletes nothing.
	out, err := exec.Command(binary(t), "gc", "--data", dataA, "--db", dsn).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "1 listed") || !strings.Contains(string(out), "0 deleted") {
		t.Fatalf("iscd gc: %v\n%s", err, out)
	}
}
