package sdk

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// freshTrustedTime gives the test its own workspace and per-user state
// directory and forgets what this process saw.
func freshTrustedTime(t *testing.T) {
	t.Setenv(EnvWorkspace, t.TempDir())
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	t.Setenv("APPDATA", t.TempDir())
	forgetTrustedTime()
	t.Cleanup(forgetTrustedTime)
}

// forgetTrustedTime plays a new process.
func forgetTrustedTime() {
	trusted.Lock()
	trusted.mark, trusted.seen = time.Time{}, nil
	trusted.twinsDir, trusted.twinsMod, trusted.twinsNewest = "", time.Time{}, time.Time{}
	trusted.Unlock()
}

const (
	testKeys    = "ISK1.demo-cad.00000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	testLicence = "ISL1.x.y.z"
)

func verdict(t *testing.T) LicenseResult {
	t.Helper()
	res, err := VerifyLicense(testLicence, testKeys, "A|B|C|D")
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestClockSetBackIsDetected(t *testing.T) {
	freshTrustedTime(t)
	log := slog.New(slog.DiscardHandler)

	// No mark yet: the licence itself is judged (here: malformed).
	if res := verdict(t); res.Code != "malformed" {
		t.Fatalf("without a mark: %+v", res)
	}
	// The service's clock said an hour from now: the local clock is behind
	// what the SDK has seen, so it was set back.
	recordTrustedTime(log, time.Now().Add(time.Hour))
	if res := verdict(t); res.Valid || res.Code != "clock_tampered" || !strings.Contains(res.Message, "set back") {
		t.Fatalf("clock set back: %+v", res)
	}
	// Another workspace of the same user starts from the user's newest mark.
	t.Setenv(EnvWorkspace, t.TempDir())
	forgetTrustedTime()
	if res := verdict(t); res.Code != "clock_tampered" {
		t.Fatalf("a new workspace forgot the mark: %+v", res)
	}
}

// TestTrustedTimeCopies: deleting or editing either copy of a mark, or
// both while the program runs, is taken for tampering; the service's clock
// heard again repairs the pair.
func TestTrustedTimeCopies(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	edit := func(path string) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b[3] ^= 1 // another digit of the time
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	remove := func(path string) {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, want string
		spoil      func(ws, twin string)
		newProcess bool
	}{
		{"workspace deleted", "workspace was deleted", func(ws, _ string) { remove(ws) }, false},
		{"workspace deleted, new process", "workspace was deleted", func(ws, _ string) { remove(ws) }, true},
		{"workspace edited", "workspace was edited", func(ws, _ string) { edit(ws) }, true},
		{"workspace emptied", "workspace was edited", func(ws, _ string) { os.WriteFile(ws, nil, 0o600) }, true},
		{"twin deleted", "copy of the trusted-time mark was deleted", func(_, tw string) { remove(tw) }, true},
		{"twin edited", "copy of the trusted-time mark was edited", func(_, tw string) { edit(tw) }, true},
		{"both deleted", "deleted while the program ran", func(ws, tw string) { remove(ws); remove(tw) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			freshTrustedTime(t)
			recordTrustedTime(log, time.Now()) // a correct clock
			if res := verdict(t); res.Code != "malformed" {
				t.Fatalf("with a mark: %+v", res)
			}
			ws, twin := trustedTimePath(), trustedTwinPath(DefaultWorkspaceDir())
			tc.spoil(ws, twin)
			if tc.newProcess {
				forgetTrustedTime()
			}
			res := verdict(t)
			if res.Code != "clock_tampered" || !strings.Contains(res.Message, tc.want) {
				t.Fatalf("got %+v, want clock_tampered: ...%s", res, tc.want)
			}
			recordTrustedTime(log, time.Now()) // the service is heard again
			if res := verdict(t); res.Code != "malformed" {
				t.Fatalf("after the service's time: %+v", res)
			}
		})
	}
}

// TestTrustedTimeLargerMark: the mark in force is the largest seen, in
// memory or in either copy, so replacing the files by older valid ones
// moves nothing back while the program runs.
func TestTrustedTimeLargerMark(t *testing.T) {
	freshTrustedTime(t)
	log := slog.New(slog.DiscardHandler)
	recordTrustedTime(log, time.Now().Add(-time.Hour))
	ws, twin := trustedTimePath(), trustedTwinPath(DefaultWorkspaceDir())
	oldWS, _ := os.ReadFile(ws)
	oldTwin, _ := os.ReadFile(twin)
	recordTrustedTime(log, time.Now().Add(time.Hour))
	os.WriteFile(ws, oldWS, 0o600)
	os.WriteFile(twin, oldTwin, 0o600)
	if res := verdict(t); res.Code != "clock_tampered" {
		t.Fatalf("older copies lowered the mark: %+v", res)
	}
}

// TestTrustedTimeV1: a mark written by an earlier version (the workspace
// alone) is read, and the next mark is written as a pair.
func TestTrustedTimeV1(t *testing.T) {
	freshTrustedTime(t)
	unix := "4102444800" // 2100-01-01
	v1 := unix + " " + hmacHex(append([]byte(trustedV1Key), trustedKey()...), unix) + "\n"
	if err := os.WriteFile(trustedTimePath(), []byte(v1), 0o600); err != nil {
		t.Fatal(err)
	}
	if res := verdict(t); res.Code != "clock_tampered" || !strings.Contains(res.Message, "set back") {
		t.Fatalf("v1 mark: %+v", res)
	}
	recordTrustedTime(slog.New(slog.DiscardHandler), time.Now())
	if _, err := os.Stat(trustedTwinPath(DefaultWorkspaceDir())); err != nil {
		t.Fatalf("no twin after a v2 write: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Clean(trustedTimePath())); !strings.HasPrefix(string(b), "2 4102444800 ") {
		t.Fatalf("workspace mark %q, want v2 keeping the larger time", b)
	}
}
