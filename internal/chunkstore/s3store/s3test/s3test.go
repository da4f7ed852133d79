// Package s3test runs a real S3 server for tests: versitygw serving a
// temporary directory (its posix backend) on a loopback port, with access
// keys made up by the harness.
//
// The binary is found through $ISCSDK_VERSITYGW, then
// $ISCSDK_BUILD_DIR/tools/versitygw, then build/tools/versitygw in the
// module's root, then $PATH. .ci/run installs it into build/tools
// (go install github.com/versity/versitygw/cmd/versitygw); without it the
// tests that need it skip, saying so loudly.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/chunkstore/s3store"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Install is the command that installs the server, for messages.
const Install = "GOBIN=$PWD/build/tools go install github.com/versity/versitygw/cmd/versitygw@v1.8.0 (.ci/run does)"

// Region is the region the server answers for.
const Region = "us-east-1"

// Binary returns the path of the versitygw binary, or an error saying how to
// install it.
func Binary() (string, error) {
	if p := os.Getenv("ISCSDK_VERSITYGW"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("$ISCSDK_VERSITYGW: %w", err)
		}
		return p, nil
	}
	var dirs []string
	if b := os.Getenv("ISCSDK_BUILD_DIR"); b != "" {
		dirs = append(dirs, filepath.Join(b, "tools"))
	}
	if root, ok := moduleRoot(); ok {
		dirs = append(dirs, filepath.Join(root, "build", "tools"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "versitygw")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("versitygw not found (looked in $ISCSDK_VERSITYGW, %s, $PATH); install it: %s", strings.Join(dirs, ", "), Install)
}

// moduleRoot finds the directory of go.mod above the working directory.
func moduleRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, true
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", false
		}
		dir = up
	}
}

// Absent reports a missing versitygw: where CI is true (CI must have it;
// .ci/run installs it) it is an error, elsewhere a reason to skip the tests
// that need it, printed loudly.
func Absent(err error) (skip bool) {
	if os.Getenv("CI") == "true" {
		fmt.Fprintf(os.Stderr, "s3test: %v\n", err)
		return false
	}
	fmt.Fprintf(os.Stderr, "\n*** THE OBJECT STORE TESTS ARE SKIPPED: %v ***\n\n", err)
	return true
}

// StartT starts a server with its data in t.TempDir() for one test and
// stops it when the test ends. Without versitygw the test is skipped (and
// fails in CI: see Absent).
func StartT(t testing.TB) *Server {
	t.Helper()
	if _, err := Binary(); err != nil {
		if Absent(err) {
			t.Skipf("SKIPPED: %v", err)
		}
		t.Fatal(err)
	}
	s, err := Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Server is a running versitygw.
type Server struct {
	Endpoint             string // http://127.0.0.1:PORT
	AccessKey, SecretKey string

	bin, root, addr string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	out  *logBuf
}

// Start starts versitygw serving root (created if needed) on a free
// loopback port.
func Start(root string) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, err
	}
	s := &Server{bin: bin, root: root, AccessKey: "ak" + random(8), SecretKey: "sk" + random(16)}
	var last error
	for range 3 { // a free port may be taken before versitygw binds it
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		s.addr = ln.Addr().String()
		ln.Close()
		s.Endpoint = "http://" + s.addr
		if last = s.Resume(); last == nil {
			return s, nil
		}
	}
	return nil, last
}

func random(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Resume starts the server again, on the same port and directory, after
// Stop.
func (s *Server) Resume() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("s3test: the server is running")
	}
	out := &logBuf{}
	cmd := exec.Command(s.bin, "--port", s.addr, "--region", Region, "posix", s.root)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s.AccessKey, "ROOT_SECRET_KEY="+s.SecretKey)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = procAttr() // on Linux: never outlives the tests
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("s3test: start versitygw: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()

	// Ready when it accepts connections; failed if it exits first.
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-done:
			return fmt.Errorf("s3test: versitygw exited at start: %s", out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-done
			return fmt.Errorf("s3test: versitygw did not listen on %s within 20s: %s", s.addr, out.String())
		}
	}
	s.cmd, s.done, s.out = cmd, done, out
	return nil
}

// Stop stops the server (SIGTERM, then SIGKILL after 10 s); stopping a
// stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

// Log returns what the server printed.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.out == nil {
		return ""
	}
	return s.out.String()
}

// MakeBucket creates a bucket and returns its name: prefix and a random
// suffix.
func (s *Server) MakeBucket(ctx context.Context, prefix string) (string, error) {
	c, err := minio.New(s.addr, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), Region: Region})
	if err != nil {
		return "", err
	}
	name := prefix + "-" + random(4)
	if err := c.MakeBucket(ctx, name, minio.MakeBucketOptions{Region: Region}); err != nil {
		return "", fmt.Errorf("s3test: make bucket %s: %w", name, err)
	}
	return name, nil
}

// URL returns the --blobs location of bucket.
func (s *Server) URL(bucket string) string {
	return "s3://" + bucket + "?endpoint=" + s.Endpoint + "&region=" + Region
}

// Config returns the s3store configuration of bucket, credentials included.
func (s *Server) Config(bucket string) s3store.Config {
	c, err := s3store.ParseURL(s.URL(bucket))
	if err != nil {
		panic(err) // URL makes a valid one
	}
	c.AccessKey, c.SecretKey = s.AccessKey, s.SecretKey
	return c
}

// logBuf collects a process's output, bounded.
type logBuf struct {
	mu sync.Mutex
	b  []byte
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.b) < 1<<20 {
		l.b = append(l.b, p...)
	}
	return len(p), nil
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b)
}
