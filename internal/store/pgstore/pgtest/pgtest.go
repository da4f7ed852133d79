// Package pgtest runs a throwaway PostgreSQL server for tests: initdb into
// a temporary directory, the server on a Unix socket there (no TCP port),
// one server per test binary and a fresh database per test.
//
// A package's tests use it as
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
//	func TestX(t *testing.T) { dsn := pgtest.DSN(t); ... }
//
// The server starts with the first DSN call and stops when Main's tests
// end (and with the test binary, should it die first). It uses Debian's
// packages (postgresql): the binaries are looked for in $PGTEST_BIN, then
// /usr/lib/postgresql/*/bin, then $PATH. Without them, DSN skips the test
// saying what to install. As root, the server runs as the "postgres" user
// (PostgreSQL refuses to run as root). The server does not fsync unless
// $PGTEST_DURABLE is set (for benchmarks).
package pgtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is a running PostgreSQL.
type Server struct {
	dir  string // holds data/ and the socket
	cmd  *exec.Cmd
	exit chan struct{}
	log  *tail
	n    atomic.Int64 // databases made
}

var (
	once     sync.Once
	shared   *Server
	startErr error
	mainRan  bool
)

// Main runs the tests and stops the server if one was started; its result
// is the exit code for os.Exit.
func Main(m *testing.M) int {
	mainRan = true
	code := m.Run()
	if shared != nil {
		if err := shared.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
	}
	return code
}

// DSN creates a new, empty database on the test binary's server and
// returns its connection string. It skips the test when PostgreSQL is not
// installed and fails it when the server does not start.
func DSN(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		if !mainRan {
			startErr = errors.New("pgtest.DSN needs the package's TestMain to call pgtest.Main")
			return
		}
		shared, startErr = Start()
	})
	if errors.Is(startErr, ErrNotInstalled) {
		t.Skip(startErr)
	}
	if startErr != nil {
		t.Fatal(startErr)
	}
	dsn, err := shared.NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// ErrNotInstalled says the PostgreSQL server binaries were not found.
var ErrNotInstalled = errors.New("pgtest: PostgreSQL is not installed (apt-get install postgresql, or set $PGTEST_BIN to the directory of initdb and postgres)")

// binDir finds the directory holding initdb and postgres.
func binDir() (string, error) {
	if d := os.Getenv("PGTEST_BIN"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", ErrNotInstalled
}

func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// Start initialises and starts a server in a new temporary directory.
func Start() (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, exit: make(chan struct{}), log: &tail{}}
	cred, err := s.credential()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"), "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: initdb: %v\n%s", err, out)
	}
	args := []string{"-D", filepath.Join(dir, "data"), "-k", dir, "-c", "listen_addresses=",
		"-c", "max_connections=300", "-c", "shared_buffers=32MB",
		"-c", "lc_messages=C", "-c", "log_min_error_statement=panic"}
	if os.Getenv("PGTEST_DURABLE") == "" {
		// Tests need no durability; benchmarks set $PGTEST_DURABLE=1.
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	s.cmd = exec.Command(filepath.Join(bin, "postgres"), args...)
	// The server dies with the test binary, whatever ends it.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// The parent-death signal goes when the thread that started the child
	// ends, not the process: start it from a locked thread kept until the
	// server exits.
	started := make(chan error)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := s.cmd.Start()
		started <- err
		if err == nil {
			<-s.exit
		}
	}()
	if err := <-started; err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: start postgres: %w", err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			s.log.add(line)
			if !signalled && strings.Contains(line, "ready to accept connections") {
				signalled = true
				close(ready)
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() {
		s.cmd.Wait()
		close(s.exit)
	}()
	select {
	case <-ready:
	case <-s.exit:
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: postgres exited at start:\n%s", s.log)
	case <-time.After(time.Minute):
		s.cmd.Process.Kill()
		<-s.exit
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: postgres not ready in a minute:\n%s", s.log)
	}
	return s, nil
}

// credential returns whom to run PostgreSQL as: nil (the current user)
// unless that is root, then the "postgres" user, who gets the directory.
func (s *Server) credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("%w: running as root needs the postgres user, which the package creates", ErrNotInstalled)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(s.dir, uid, gid); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// DSN is the connection string of database name.
func (s *Server) DSN(name string) string {
	return fmt.Sprintf("postgres://postgres@/%s?host=%s&sslmode=disable", name, s.dir)
}

// NewDatabase creates an empty database and returns its connection string.
func (s *Server) NewDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("test%d", s.n.Add(1))
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE template0"); err != nil {
		return "", fmt.Errorf("pgtest: create database: %w", err)
	}
	return s.DSN(name), nil
}

// Stop stops the server (fast shutdown: connections are ended) and removes
// its directory.
func (s *Server) Stop() error {
	s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exit:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.exit
	}
	return os.RemoveAll(s.dir)
}

// tail keeps the server's last log lines, for errors.
type tail struct {
	mu    sync.Mutex
	lines []string
}

func (t *tail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, line)
	if len(t.lines) > 50 {
		t.lines = t.lines[1:]
	}
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}
