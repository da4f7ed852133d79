package main

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
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgres is a throwaway PostgreSQL server for the scale group: initdb
// into a temporary directory and the server on a Unix socket there, as
// internal/store/pgstore/pgtest starts one for the tests (that package
// imports testing, so the few lines are repeated here). Unlike the tests'
// server it keeps PostgreSQL's durable defaults (fsync, synchronous
// commit): the embedded store it is compared with syncs every commit.
type postgres struct {
	dir  string // data/ and the socket; outside the run's directory, which only root may enter
	cmd  *exec.Cmd
	exit chan struct{}
	n    int
}

// errNoPostgres says the server binaries were not found.
var errNoPostgres = errors.New("PostgreSQL is not installed (apt-get install postgresql: the benchmark looks in /usr/lib/postgresql/*/bin)")

// postgresBin finds the newest /usr/lib/postgresql/*/bin holding initdb.
func postgresBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(d string) int { n, _ := strconv.Atoi(filepath.Base(filepath.Dir(d))); return n }
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errNoPostgres
}

// startPostgres initialises and starts a server; log gets its output.
func startPostgres(log io.Writer) (*postgres, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "iscbench-pg")
	if err != nil {
		return nil, err
	}
	p := &postgres{dir: dir, exit: make(chan struct{})}
	// PostgreSQL refuses to run as root: then it runs as the postgres user
	// the Debian package creates, who gets the directory.
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("%w: as root it needs the postgres user", errNoPostgres)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"), "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	p.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", filepath.Join(dir, "data"), "-k", dir,
		"-c", "listen_addresses=", "-c", "max_connections=200", "-c", "lc_messages=C")
	// The server dies with the benchmark, whatever ends it: the
	// parent-death signal follows the thread that started the child, so
	// that thread is kept until the server exits.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	started := make(chan error)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := p.cmd.Start()
		started <- err
		if err == nil {
			p.cmd.Wait()
			close(p.exit)
		}
	}()
	if err := <-started; err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		signalled := false
		var first []string
		for sc.Scan() { // to the end: postgres must never block on a full pipe
			if !signalled {
				first = append(first, sc.Text())
				if strings.Contains(sc.Text(), "ready to accept connections") {
					signalled = true
					close(ready)
				}
			}
		}
		if !signalled {
			fmt.Fprintf(log, "   postgres:\n%s\n", strings.Join(first, "\n"))
		}
	}()
	select {
	case <-ready:
	case <-p.exit:
		os.RemoveAll(dir)
		return nil, fmt.Errorf("postgres exited at start (its output is above)")
	case <-time.After(time.Minute):
		p.stop()
		return nil, fmt.Errorf("postgres not ready in a minute")
	}
	fmt.Fprintf(log, "   postgres %s (pid %d)\n", bin, p.cmd.Process.Pid)
	return p, nil
}

// dsn is the connection string of database name.
func (p *postgres) dsn(name string) string {
	return fmt.Sprintf("postgres://postgres@/%s?host=%s&sslmode=disable", name, p.dir)
}

// newDatabase creates an empty database and returns its connection string.
func (p *postgres) newDatabase(ctx context.Context) (string, error) {
	p.n++
	name := fmt.Sprintf("bench%d", p.n)
	conn, err := pgx.Connect(ctx, p.dsn("postgres"))
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE template0"); err != nil {
		return "", fmt.Errorf("create database: %w", err)
	}
	return p.dsn(name), nil
}

// pids are the server's processes: the postmaster and its children (a
// backend a connection, the writers).
func (p *postgres) pids() []int {
	root := p.cmd.Process.Pid
	out := []int{root}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(root) {
			out = append(out, pid)
		}
	}
	return out
}

// stop ends the server (fast shutdown) and removes its directory.
func (p *postgres) stop() {
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.exit:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.exit
	}
	os.RemoveAll(p.dir)
}
