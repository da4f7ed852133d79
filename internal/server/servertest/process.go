package servertest

import (
	"bufio"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/iscsdk/iscsdk/internal/release"
)

// Binary is an iscd process started by StartBinary.
type Binary struct {
	Env map[string]string // its dev.env
	// ReleaseKey is the dev release key (ISCD_RELEASE_KEY_FILE), which
	// signs what tests publish.
	ReleaseKey release.PrivateKey
	Pid        int    // its process id (for /proc: memory, CPU time)
	Stop       func() // SIGTERM, then wait
	Kill       func() // SIGKILL, then wait: a crash
}

// StartBinary runs the iscd binary bin as `iscd serve --dev --data DATA
// --listen 127.0.0.1:0 ARGS...` (a later --listen in ARGS wins), waits
// until it listens, and returns it. For tests that drive programs in other
// processes (C, Windows under Wine), from a TestMain: it takes no
// testing.TB.
func StartBinary(bin, data string, args ...string) (*Binary, error) {
	env, cmd, err := startBinary(bin, data, args...)
	if err != nil {
		return nil, err
	}
	key, err := readReleaseKey(env["ISCD_RELEASE_KEY_FILE"])
	if err != nil {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		return nil, fmt.Errorf("dev release key: %w", err)
	}
	return &Binary{
		Env:        env,
		ReleaseKey: key,
		Pid:        cmd.Process.Pid,
		Stop:       func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() },
		Kill:       func() { cmd.Process.Kill(); cmd.Wait() },
	}, nil
}

func startBinary(bin, data string, args ...string) (env map[string]string, proc *exec.Cmd, err error) {
	cmd := exec.Command(bin, append([]string{"serve", "--dev", "--data", data, "--listen", "127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}
	listening := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		found := false
		for sc.Scan() { // to the end: iscd must never block on a full pipe
			if !found && strings.Contains(sc.Text(), `"msg":"listening"`) {
				found = true
				listening <- true
			}
		}
		if !found {
			listening <- false
		}
	}()
	select {
	case ok := <-listening:
		if !ok {
			stop()
			return nil, nil, errors.New("iscd exited before listening")
		}
	case <-time.After(30 * time.Second):
		stop()
		return nil, nil, errors.New("iscd did not listen within 30s")
	}
	env, err = readEnv(filepath.Join(data, "dev.env"))
	if err == nil {
		for _, k := range []string{"ISCSDK_ENDPOINT", "ISCSDK_TOKEN", "ISCSDK_PRODUCT", "ISCSDK_LICENSE_PUBLIC_KEY", "ISCSDK_RELEASE_KEY", "ISCD_RELEASE_KEY_FILE", "ISCD_ADMIN_URL", "ISCD_ADMIN_TOKEN"} {
			if env[k] == "" {
				err = fmt.Errorf("dev.env: no %s", k)
			}
		}
	}
	if err != nil {
		stop()
		return nil, nil, err
	}
	return env, cmd, nil
}
