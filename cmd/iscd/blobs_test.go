//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/iscsdk/iscsdk/internal/chunkstore/s3store/s3test"
	"github.com/iscsdk/iscsdk/internal/wire"
	"github.com/iscsdk/iscsdk/sdk"
)

func TestBlobsFlagErrors(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	creds := filepath.Join(t.TempDir(), "creds")
	os.WriteFile(creds, []byte("AWS_ACCESS_KEY_ID=AKIDONLY\nhunter2-secret-line\n"), 0o600)
	data := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--blobs", "ftp://bucket"}, "want an s3:// URL"},
		{[]string{"--blobs", "s3://?endpoint=http://127.0.0.1:1"}, "no bucket"},
		{[]string{"--blobs", "s3://AKID:hunter2@bucket?endpoint=http://127.0.0.1:1"}, "credentials do not go in the s3:// URL"},
		{[]string{"--blobs", "s3://bucket?endpoint=ftp://127.0.0.1:1"}, "endpoint must be"},
		{[]string{"--blobs", "s3://bucket?endpoint=http://127.0.0.1:1&secret=hunter2"}, `unknown parameter "secret"`},
		{[]string{"--blobs", "s3://bucket?endpoint=http://127.0.0.1:1"}, "no credentials for the object store"},
		{[]string{"--blobs", "s3://bucket?endpoint=http://127.0.0.1:1", "--blobs-credentials-file", creds}, "line 2: want KEY=VALUE"},
		{[]string{"--blobs-credentials-file", creds}, "--blobs-credentials-file without --blobs"},
	} {
		for _, cmd := range []string{"serve", "gc"} {
			var out, errb bytes.Buffer
			args := append([]string{cmd, "--data", data}, tc.args...)
			err := run(args, &out, &errb)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("iscd %v: err = %v, want %q", args, err, tc.want)
				continue
			}
			if strings.Contains(err.Error()+errb.String(), "hunter2") {
				t.Errorf("iscd %v shows a secret: %v", args, err)
			}
		}
	}
}

// bins holds the iscd binary each running test built.
var bins sync.Map // *testing.T → string

// binary builds iscd once for a test (the build cache makes the next
// test's cheap); it goes with the test's temporary directory.
func binary(t *testing.T) string {
	t.Helper()
	if p, ok := bins.Load(t); ok {
		return p.(string)
	}
	bin := filepath.Join(t.TempDir(), "iscd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build iscd: %v\n%s", err, out)
	}
	bins.Store(t, bin)
	t.Cleanup(func() { bins.Delete(t) })
	return bin
}

// iscd is a running `iscd serve --dev` and what it logged.
type iscd struct {
	env  map[string]string
	cmd  *exec.Cmd
	mu   sync.Mutex
	logs []string
	done chan struct{}
}

// startIscd runs the iscd binary on data with args, and waits until it
// listens.
func startIscd(t *testing.T, data string, env []string, args ...string) *iscd {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"serve", "--dev", "--data", data, "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &iscd{cmd: cmd, done: make(chan struct{})}
	listening := make(chan bool, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		found := false
		for sc.Scan() {
			p.mu.Lock()
			p.logs = append(p.logs, sc.Text())
			p.mu.Unlock()
			if !found && strings.Contains(sc.Text(), `"msg":"listening"`) {
				found = true
				listening <- true
			}
		}
		if !found {
			listening <- false
		}
	}()
	t.Cleanup(p.stop)
	select {
	case ok := <-listening:
		if !ok {
			cmd.Wait()
			t.Fatalf("iscd exited before listening:\n%s", p.log())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("iscd did not listen within 30s:\n%s", p.log())
	}
	p.env = map[string]string{}
	b, err := os.ReadFile(filepath.Join(data, "dev.env"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			p.env[k] = v
		}
	}
	return p
}

func (p *iscd) stop() {
	if p.cmd.ProcessState != nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
	p.cmd.Wait()
}

func (p *iscd) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.logs, "\n")
}

func (p *iscd) client(t *testing.T) *sdk.Client {
	t.Helper()
	c, err := sdk.Init(context.Background(), sdk.Config{
		Endpoint: p.env["ISCSDK_ENDPOINT"], Token: p.env["ISCSDK_TOKEN"], ProductID: p.env["ISCSDK_PRODUCT"],
		WorkspaceDir: t.TempDir(), LogLevel: "off", ConnectTimeout: 5 * time.Second,
		CredentialsFile: filepath.Join(t.TempDir(), "none"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// objects counts the objects in a bucket.
func objects(t *testing.T, s3 *s3test.Server, bucket string) int {
	t.Helper()
	c, err := minio.New(strings.TrimPrefix(s3.Endpoint, "http://"), &minio.Options{Creds: credentials.NewStaticV4(s3.AccessKey, s3.SecretKey, ""), Region: s3test.Region})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for o := range c.ListObjectsIter(context.Background(), bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		n++
	}
	return n
}

// iscd with its chunks in an object store: a file saved by one program
// opens byte for byte in another, a re-save sends only the changed chunks,
// nothing lands in the data directory, the credentials never appear in the
// log, and iscd gc collects from the bucket.
func TestServeWithObjectStore(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs iscd and versitygw")
	}
	s3 := s3test.StartT(t)
	ctx := context.Background()
	bucket, err := s3.MakeBucket(ctx, "iscd")
	if err != nil {
		t.Fatal(err)
	}
	creds := filepath.Join(t.TempDir(), "s3.env")
	os.WriteFile(creds, []byte("# versitygw of the test\nAWS_ACCESS_KEY_ID="+s3.AccessKey+"\nAWS_SECRET_ACCESS_KEY="+s3.SecretKey+"\n"), 0o600)
	data := t.TempDir()
	blobs := "s3://" + bucket + "/iscd?endpoint=" + s3.Endpoint + "&region=" + s3test.Region // with a key prefix
	srv := startIscd(t, data, nil, "--blobs", blobs, "--blobs-credentials-file", creds)

	a, b := srv.client(t), srv.client(t)
	content := randomBytes(1, 3<<20)
	local := filepath.Join(t.TempDir(), "bracket.prt")
	os.WriteFile(local, content, 0o644)
	res, err := a.SaveTo(ctx, local, "/s3/bracket.prt", 0, sdk.SaveOptions{})
	if err != nil || res.Version != 1 {
		t.Fatalf("save: %+v %v", res, err)
	}
	open, err := b.OpenFile(ctx, "/s3/bracket.prt", sdk.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(open.MainFile); !bytes.Equal(got, content) {
		t.Fatal("the opened file differs from the saved one")
	}
	stored := objects(t, s3, bucket)
	if stored != res.ChunksTotal {
		t.Errorf("%d objects in the bucket for %d chunks", stored, res.ChunksTotal)
	}
	if _, err := os.Stat(filepath.Join(data, "chunks")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("chunks in the data directory too: %v", err)
	}

	// A small edit in the middle: only its chunk(s) go again.
	copy(content[1<<20:], []byte("a fillet of 2 mm on the inner edge"))
	os.WriteFile(open.MainFile, content, 0o644)
	res2, err := b.SaveTo(ctx, open.MainFile, "/s3/bracket.prt", 1, sdk.SaveOptions{})
	if err != nil || res2.Version != 2 {
		t.Fatalf("re-save: %+v %v", res2, err)
	}
	if res2.ChunksSent > 2 || res2.BytesSent > int64(len(content))/4 {
		t.Errorf("re-save after a small edit sent %d of %d chunks, %d bytes", res2.ChunksSent, res2.ChunksTotal, res2.BytesSent)
	}
	open, err = a.OpenFile(ctx, "/s3/bracket.prt", sdk.OpenOptions{})
	if got, _ := os.ReadFile(open.MainFile); err != nil || open.Version != 2 || !bytes.Equal(got, content) {
		t.Fatalf("version 2 opened: %+v %v", open, err)
	}

	srv.stop()
	if logs := srv.log(); strings.Contains(logs, s3.SecretKey) || strings.Contains(logs, s3.AccessKey) {
		t.Fatal("iscd logged the object store's credentials")
	} else if !strings.Contains(logs, `"blobs":"s3://`+bucket+`/iscd/?endpoint=`) {
		t.Errorf("iscd did not log where the chunks go:\n%s", logs)
	}

	// iscd gc, credentials from the environment: every chunk is referenced.
	gc := exec.Command(binary(t), "gc", "--data", data, "--blobs", blobs)
	gc.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+s3.AccessKey, "AWS_SECRET_ACCESS_KEY="+s3.SecretKey)
	out, err := gc.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "0 deleted") || strings.Contains(string(out), s3.SecretKey) {
		t.Fatalf("iscd gc: %v\n%s", err, out)
	}
	t.Logf("iscd gc: %s", out)
}

// The object store stopped in the middle of a save: the save fails saying
// the storage is unavailable, no version is committed, and the same save
// succeeds once the store is back.
func TestObjectStoreDownMidSave(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs iscd and versitygw")
	}
	s3 := s3test.StartT(t)
	ctx := context.Background()
	bucket, err := s3.MakeBucket(ctx, "iscd")
	if err != nil {
		t.Fatal(err)
	}
	srv := startIscd(t, t.TempDir(), []string{"AWS_ACCESS_KEY_ID=" + s3.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s3.SecretKey}, "--blobs", s3.URL(bucket))
	c := srv.client(t)
	// Two rounds of files.have and chunk puts (the client sends 16 MiB a
	// round): the store goes away in the second.
	content := randomBytes(2, 24<<20)
	local := filepath.Join(t.TempDir(), "housing.prt")
	os.WriteFile(local, content, 0o644)

	stopped := false
	_, err = c.SaveTo(ctx, local, "/s3/housing.prt", 0, sdk.SaveOptions{Progress: func(p sdk.Progress) {
		if !stopped && p.BytesDone > 18<<20 {
			stopped = true
			s3.Stop()
		}
	}})
	var we *wire.Error
	if !stopped || !errors.As(err, &we) || we.Code != wire.CodeUnavailable || !strings.Contains(we.Message, "storage is unavailable") {
		t.Fatalf("save with the object store stopped (stopped %v): %v", stopped, err)
	}
	t.Logf("the program was told: %v", err)
	if _, err := c.Stat(ctx, "/s3/housing.prt"); !errors.As(err, &we) || we.Code != wire.CodeNotFound {
		t.Fatalf("a version exists after the failed save: %v", err)
	}
	if !strings.Contains(srv.log(), "chunk store failed") {
		t.Errorf("iscd did not log the failure:\n%s", srv.log())
	}

	if err := s3.Resume(); err != nil {
		t.Fatal(err)
	}
	res, err := c.SaveTo(ctx, local, "/s3/housing.prt", 0, sdk.SaveOptions{})
	if err != nil || res.Version != 1 {
		t.Fatalf("the save once the store is back: %+v %v", res, err)
	}
	if res.ChunksSent == res.ChunksTotal {
		t.Errorf("the retry sent all %d chunks again: the ones stored before the outage should count", res.ChunksTotal)
	}
	open, err := c.OpenFile(ctx, "/s3/housing.prt", sdk.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(open.MainFile); !bytes.Equal(got, content) {
		t.Fatal("the file saved after the outage differs")
	}
}
