package servertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/iscsdk/iscsdk/internal/chunkstore"
	"github.com/iscsdk/iscsdk/internal/chunkstore/s3store"
	"github.com/iscsdk/iscsdk/internal/chunkstore/s3store/s3test"
)

// One versitygw for the test process, started by the first test that needs
// it; it ends with the process (s3test.Start).
var (
	s3Once sync.Once
	s3Srv  *s3test.Server
	s3Err  error
)

// s3DirPrefix starts the names of the shared servers' directories, which
// end in the test process's id: the server outlives no test process, but
// its directory does, until the next process that starts one removes it.
const s3DirPrefix = "servertest-s3-"

// removeStaleS3Dirs removes the directories of servers whose test process
// has ended.
func removeStaleS3Dirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), s3DirPrefix+"*"))
	for _, d := range dirs {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), s3DirPrefix))
		if err != nil || pid == os.Getpid() {
			continue
		}
		if p, err := os.FindProcess(pid); err == nil && p.Signal(syscall.Signal(0)) == nil {
			continue // still running
		}
		os.RemoveAll(d)
	}
}

// sharedS3 starts the test process's versitygw once. Without versitygw the
// test is skipped (failed in CI: see s3test.Absent).
func sharedS3(t testing.TB) *s3test.Server {
	t.Helper()
	if _, err := s3test.Binary(); err != nil {
		if s3test.Absent(err) {
			t.Skipf("SKIPPED: $ISCD_TEST_BLOBS=s3: %v", err)
		}
		t.Fatal(err)
	}
	s3Once.Do(func() {
		removeStaleS3Dirs()
		dir := filepath.Join(os.TempDir(), fmt.Sprintf("%s%d", s3DirPrefix, os.Getpid()))
		if err := os.RemoveAll(dir); err != nil {
			s3Err = err
			return
		}
		s3Srv, s3Err = s3test.Start(dir)
	})
	if s3Err != nil {
		t.Fatal(s3Err)
	}
	return s3Srv
}

// s3Chunks returns a chunk store on a fresh bucket of the shared versitygw.
func s3Chunks(t testing.TB) chunkstore.Store {
	t.Helper()
	srv := sharedS3(t)
	ctx := context.Background()
	bucket, err := srv.MakeBucket(ctx, "iscd")
	if err != nil {
		t.Fatal(err)
	}
	s, err := s3store.New(ctx, srv.Config(bucket))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// S3Flags returns the `iscd serve` flags that keep chunks in a fresh bucket
// of the test process's versitygw (its credentials in a file of the test):
// for iscd binaries, as replicas sharing one object store.
func S3Flags(t testing.TB) []string {
	t.Helper()
	srv := sharedS3(t)
	bucket, err := srv.MakeBucket(context.Background(), "iscd")
	if err != nil {
		t.Fatal(err)
	}
	creds := filepath.Join(t.TempDir(), "s3.creds")
	if err := os.WriteFile(creds, []byte("AWS_ACCESS_KEY_ID="+srv.AccessKey+"\nAWS_SECRET_ACCESS_KEY="+srv.SecretKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"--blobs", "s3://" + bucket + "?endpoint=" + srv.Endpoint + "&region=" + s3test.Region, "--blobs-credentials-file", creds}
}
