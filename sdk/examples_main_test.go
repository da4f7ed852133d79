package sdk_test

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/iscsdk/iscsdk/internal/server"
)

// The runnable examples talk to a dev-mode iscd as a program would: with
// an empty sdk.Config, reading the credentials file. TestMain runs that
// iscd in a child process (this test binary, started again with
// exampleServiceEnv), so that its goroutines are not the tests' (the leak
// tests count them), and only when examples are to run.

const exampleServiceEnv = "ISCSDK_TEST_EXAMPLE_SERVICE"

// runsExamples reports whether this run includes examples: -run names
// one of example_test.go's (as go test matches: the pattern's first
// element, anywhere in the name).
func runsExamples() bool {
	if !flag.Parsed() {
		flag.Parse()
	}
	if f := flag.Lookup("test.list"); f != nil && f.Value.String() != "" {
		return false
	}
	run := ""
	if f := flag.Lookup("test.run"); f != nil {
		run, _, _ = strings.Cut(f.Value.String(), "/")
	}
	if run == "" {
		return true
	}
	pattern, err := regexp.Compile(run)
	src, _ := os.ReadFile("example_test.go")
	if err != nil || src == nil {
		return true // go test reports a bad pattern itself
	}
	for _, m := range exampleFunc.FindAllSubmatch(src, -1) {
		if pattern.Match(m[1]) {
			return true
		}
	}
	return false
}

var exampleFunc = regexp.MustCompile(`(?m)^func (Example\w*)\(`)

// startExampleService starts the examples' iscd with its data in dir,
// writes a credentials file naming it and points $ISCSDK_CREDENTIALS
// there. stop ends it.
func startExampleService(dir string) (stop func(), err error) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), exampleServiceEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop = func() { stdin.Close(); cmd.Wait() } // the child stops at EOF
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		stop()
		return nil, fmt.Errorf("example service: %q %v", line, err)
	}
	env, err := os.ReadFile(filepath.Join(dir, "dev.env"))
	if err != nil {
		stop()
		return nil, err
	}
	creds := filepath.Join(dir, "credentials")
	if err := os.WriteFile(creds, env, 0o600); err != nil {
		stop()
		return nil, err
	}
	os.Setenv("ISCSDK_CREDENTIALS", creds)
	for _, kv := range strings.Split(string(env), "\n") {
		if k, v, ok := strings.Cut(kv, "="); ok && k == "ISCSDK_LICENSE_PUBLIC_KEY" {
			os.Setenv(k, v) // what a real program compiles in
		}
	}
	return stop, nil
}

// serveExamples is the child: a dev-mode iscd on loopback, until its
// standard input ends.
func serveExamples(dir string) error {
	srv, err := server.Open(server.Config{DataDir: dir, Dev: true})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if err := srv.Start(ln); err != nil {
		return err
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(srv.Shutdown(ctx), srv.Wait())
}
