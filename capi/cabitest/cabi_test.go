package cabitest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/release"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/unifiedlogin/unifiedlogintest"
	"github.com/iscsdk/iscsdk/sdk"
)

// Set up once by TestMain.
var (
	root    string            // the repository
	libDir  string            // holds libiscsdk.so
	progDir string            // the compiled C programs
	devEnv  map[string]string // iscd's dev.env
	baseEnv []string          // the environment of every C program
	// releaseKey is the dev iscd's release key: it signs what the tests
	// publish, as a vendor's does offline.
	releaseKey release.PrivateKey
	// unifiedLogin is the marketplace's unified login the dev iscd's
	// tenants sign in at; kitRSA the vendor's key applicationSync's
	// client secrets are encrypted to.
	unifiedLogin *unifiedlogintest.Server
	kitRSA       *rsa.PrivateKey
)

func TestMain(m *testing.M) {
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cabitest:", err)
		code = 1
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	var err error
	if root, err = filepath.Abs("../.."); err != nil {
		return 0, err
	}
	tmp, err := os.MkdirTemp("", "cabitest")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)

	iscd := ""
	if dir := os.Getenv("ISCSDK_BUILD_DIR"); dir != "" {
		libDir, iscd = filepath.Join(dir, "lib"), filepath.Join(dir, "bin", "iscd")
	} else {
		libDir, iscd = filepath.Join(tmp, "lib"), filepath.Join(tmp, "iscd")
		if err := buildLibrary(libDir); err != nil {
			return 0, err
		}
		if err := run(root, "go", "build", "-o", iscd, "./cmd/iscd"); err != nil {
			return 0, err
		}
	}
	progDir = filepath.Join(tmp, "bin")
	if err := os.Mkdir(progDir, 0o755); err != nil {
		return 0, err
	}
	for _, prog := range []string{"args", "session", "license", "files", "picker", "upgrade", "solve", "signin"} {
		if err := run(root, "gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-Iinclude",
			"tests/cabi/"+prog+".c", "-o", filepath.Join(progDir, prog),
			"-pthread", "-L"+libDir, "-liscsdk", "-Wl,-rpath,"+libDir); err != nil {
			return 0, err
		}
	}

	for _, ex := range [][]string{
		{"gcc", "-std=c99", "examples/c/console.c", "console_c"},
		{"gcc", "-std=c99", "examples/c/cloud_files.c", "cloud_files"},
		{"g++", "-std=c++11", "examples/cpp/console.cpp", "console_cpp"},
		{"g++", "-std=c++11", "tests/cabi/upgrade_cpp.cpp", "upgrade_cpp"},
		{"g++", "-std=c++11", "tests/cabi/signin_cpp.cpp", "signin_cpp"},
	} {
		if err := run(root, ex[0], ex[1], "-pedantic", "-Wall", "-Wextra", "-Werror", "-Iinclude", ex[2],
			"-o", filepath.Join(progDir, ex[3]), "-L"+libDir, "-liscsdk", "-Wl,-rpath,"+libDir); err != nil {
			return 0, err
		}
	}

	// The Go example, as a vendor builds it.
	if err := run(root, "go", "build", "-o", filepath.Join(progDir, "console_go"), "./examples/go"); err != nil {
		return 0, err
	}

	stop, err := startISCD(iscd, filepath.Join(tmp, "iscd-data"))
	if err != nil {
		return 0, err
	}
	defer stop()
	baseEnv = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + tmp,
		"XDG_CACHE_HOME=" + filepath.Join(tmp, "cache"), // the default workspace
		"ISCSDK_CREDENTIALS=" + filepath.Join(tmp, "no-credentials"),
		"ISCSDK_LOG=debug",
		"ISCSDK_NO_BROWSER=1", // the pickers' pages are for the tests to open; a browser sign-in sets it back (it would take the device grant)
	}
	for k, v := range devEnv {
		baseEnv = append(baseEnv, k+"="+v)
	}
	return m.Run(), nil
}

// buildLibrary builds the library as make lib does, into dir.
func buildLibrary(dir string) error {
	so := filepath.Join(dir, "libiscsdk.so.0.1.0")
	ldflags := "-s -w -extldflags '-Wl,-soname,libiscsdk.so.0 -Wl,--version-script=" + filepath.Join(root, "capi", "libiscsdk.map") + "'"
	if err := run(root, "go", "build", "-buildmode=c-shared", "-ldflags", ldflags, "-o", so, "./capi"); err != nil {
		return err
	}
	if err := os.Symlink("libiscsdk.so.0.1.0", filepath.Join(dir, "libiscsdk.so.0")); err != nil {
		return err
	}
	return os.Symlink("libiscsdk.so.0", filepath.Join(dir, "libiscsdk.so"))
}

// startISCD starts `iscd serve --dev` and waits until it listens.
func startISCD(bin, data string) (stop func(), err error) {
	// The marketplace's sync interfaces are on, with kitKey: a test
	// revokes a user as the marketplace does.
	keyFile := filepath.Join(filepath.Dir(data), "kit.key")
	if err := os.WriteFile(keyFile, []byte(kitKey), 0o600); err != nil {
		return nil, err
	}
	// Tenants sign in through a stand-in of the unified login; the
	// client secrets applicationSync brings are encrypted to kitRSA.
	if kitRSA, err = rsa.GenerateKey(rand.Reader, 3072); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(kitRSA)
	if err != nil {
		return nil, err
	}
	rsaFile := filepath.Join(filepath.Dir(data), "kit-rsa.pem")
	if err := os.WriteFile(rsaFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	unifiedLogin = unifiedlogintest.Start()
	b, err := servertest.StartBinary(bin, data, "--heartbeat", "200ms", "--license-lease", "2s", "--kit-key-file", keyFile,
		"--kit-private-key", rsaFile, "--unified-login-page", unifiedLogin.LoginPage(), "--unified-login-api", unifiedLogin.URL)
	if err != nil {
		unifiedLogin.Close()
		return nil, err
	}
	devEnv, releaseKey = b.Env, b.ReleaseKey
	return func() { b.Stop(); unifiedLogin.Close() }, nil
}

func run(dir, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// ---- running the C programs ----

// program is a running C test program.
type program struct {
	t      *testing.T
	cmd    *exec.Cmd
	cancel context.CancelFunc
	stdin  io.WriteCloser
	lines  chan string  // stdout, line by line; closed at EOF
	out    bytes.Buffer // stdout lines read so far
	stderr bytes.Buffer
}

func start(t *testing.T, env []string, name string, args ...string) *program {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	p := &program{t: t, cmd: exec.CommandContext(ctx, filepath.Join(progDir, name), args...), cancel: cancel, lines: make(chan string, 1024)}
	p.cmd.Env = append(slices.Clone(baseEnv), env...)
	p.cmd.Stderr = &p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); p.cmd.Wait() })
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	return p
}

// expect waits for a line starting with prefix and returns the rest.
func (p *program) expect(prefix string) string {
	p.t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				p.t.Fatalf("%s: exited before printing %q:\n%s", p.cmd.Path, prefix, p.out.String())
			}
			p.out.WriteString(line + "\n")
			if rest, found := strings.CutPrefix(line, prefix); found {
				return rest
			}
		case <-timeout:
			p.t.Fatalf("%s: no %q within 60s:\n%s", p.cmd.Path, prefix, p.out.String())
		}
	}
}

var summary = regexp.MustCompile(`^(\d+) passed, (\d+) failed$`)

// finish waits for the program and checks that every check passed.
func (p *program) finish() {
	p.t.Helper()
	p.stdin.Close()
	last := ""
	for line := range p.lines {
		p.out.WriteString(line + "\n")
		last = line
	}
	err := p.cmd.Wait()
	m := summary.FindStringSubmatch(last)
	if m == nil || m[2] != "0" || m[1] == "0" || err != nil {
		p.t.Errorf("%s %s: %v\n%s%s", filepath.Base(p.cmd.Path), strings.Join(p.cmd.Args[1:], " "), err, p.out.String(), p.stderr.String())
		return
	}
	if p.stderr.Len() > 0 {
		p.t.Errorf("%s: the library wrote to stderr:\n%s", filepath.Base(p.cmd.Path), p.stderr.String())
	}
	p.t.Logf("%s %s: %s", filepath.Base(p.cmd.Path), strings.Join(p.cmd.Args[1:], " "), last)
}

// postNotices pushes notices "1".."n" to session through the admin API.
func postNotices(t *testing.T, session string, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		body, _ := json.Marshal(map[string]string{"session": session, "title": "t", "text": strconv.Itoa(i)})
		req, _ := http.NewRequest("POST", devEnv["ISCD_ADMIN_URL"]+"/admin/v1/notices", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+devEnv["ISCD_ADMIN_TOKEN"])
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("post notice %d: %s: %s", i, resp.Status, msg)
		}
	}
}

// ---- the tests ----

func TestBadArguments(t *testing.T) {
	// A listener that accepts connections and never answers them.
	hole, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	start(t, []string{"ISCSDK_TEST_BLACKHOLE=" + hole.Addr().String(), "ISCSDK_TEST_WORKSPACE=" + t.TempDir()}, "args").finish()
}

func TestCalls(t *testing.T)             { start(t, nil, "session", "calls").finish() }
func TestBadToken(t *testing.T)          { start(t, nil, "session", "badtoken").finish() }
func TestShutOutInCallback(t *testing.T) { start(t, nil, "session", "reentrant").finish() }

func TestCallbacks(t *testing.T) { pushed(t, "callbacks", 50) }
func TestPoll(t *testing.T)      { pushed(t, "poll", 50) }

// pushed runs a scenario that waits for n notices from the service.
func pushed(t *testing.T, scenario string, n int) {
	p := start(t, nil, "session", scenario)
	session := strings.TrimSpace(p.expect("READY "))
	if session == "" {
		t.Fatalf("no session id:\n%s", p.out.String())
	}
	postNotices(t, session, n)
	fmt.Fprintf(p.stdin, "SENT %d\n", n)
	p.finish()
}

// The header is C99 and C++11 without extensions or warnings.
func TestHeadersCompileStrictly(t *testing.T) {
	dir := t.TempDir()
	c := filepath.Join(dir, "h.c")
	os.WriteFile(c, []byte("#include <iscsdk/iscsdk.h>\nint main(void) { return iscsdk_version_number() == ISCSDK_VERSION_NUMBER ? 0 : 1; }\n"), 0o600)
	cpp := filepath.Join(dir, "h.cpp")
	os.WriteFile(cpp, []byte("#include <iscsdk/iscsdk.hpp>\nint main() { iscsdk::Sdk sdk; return sdk.Init() == ISCSDK_OK ? 0 : 1; }\n"), 0o600)
	inc := "-I" + filepath.Join(root, "include")
	for _, args := range [][]string{
		{"gcc", "-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", inc, c},
		{"gcc", "-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-DISCSDK_BUILDING", "-fsyntax-only", inc, c},
		{"g++", "-x", "c++", "-std=c++11", "-pedantic", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", inc, c},
		{"g++", "-std=c++11", "-pedantic", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", inc, cpp},
		{"g++", "-std=c++11", "-pedantic", "-Wall", "-Wextra", "-Werror", "-DISCSDK_WSTRING_PATHS", "-fsyntax-only", inc, cpp},
	} {
		if err := run(dir, args[0], args[1:]...); err != nil {
			t.Error(err)
		}
	}
}

// The library exports exactly the functions the header declares, and so
// does the Windows .def file.
func TestExportsMatchHeader(t *testing.T) {
	header, err := os.ReadFile(filepath.Join(root, "include", "iscsdk", "iscsdk.h"))
	if err != nil {
		t.Fatal(err)
	}
	var declared []string
	for _, m := range regexp.MustCompile(`(?m)^ISCSDK_API .*\b(iscsdk_\w+)\(`).FindAllSubmatch(header, -1) {
		declared = append(declared, string(m[1]))
	}
	slices.Sort(declared)
	if len(declared) < 20 {
		t.Fatalf("found only %d declarations in iscsdk.h: %v", len(declared), declared)
	}

	out, err := exec.Command("nm", "-D", "--defined-only", filepath.Join(libDir, "libiscsdk.so")).Output()
	if err != nil {
		t.Fatal(err)
	}
	var exported []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[1] != "A" {
			name, _, _ := strings.Cut(f[2], "@")
			exported = append(exported, name)
		}
	}
	slices.Sort(exported)
	if !slices.Equal(exported, declared) {
		t.Errorf("libiscsdk.so exports\n%v\nthe header declares\n%v", exported, declared)
	}

	def, err := os.ReadFile(filepath.Join(root, "capi", "iscsdk.def"))
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	_, exports, _ := strings.Cut(string(def), "EXPORTS")
	for _, line := range strings.Split(exports, "\n") {
		if f := strings.Fields(line); len(f) > 0 && !strings.HasPrefix(f[0], ";") {
			listed = append(listed, f[0])
		}
	}
	slices.Sort(listed)
	if !slices.Equal(listed, declared) {
		t.Errorf("iscsdk.def lists\n%v\nthe header declares\n%v", listed, declared)
	}
}

// The header's version is the sdk's.
func TestVersionMatchesSDK(t *testing.T) {
	header, err := os.ReadFile(filepath.Join(root, "include", "iscsdk", "iscsdk.h"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`#define ISCSDK_VERSION_STRING "([^"]+)"`).FindSubmatch(header)
	if m == nil || string(m[1]) != sdk.Version {
		t.Errorf("ISCSDK_VERSION_STRING %q, sdk.Version %q", m, sdk.Version)
	}
}

// cloud_files saves, changes, saves again and opens back a part and an
// assembly, and exits 0; a step that fails is printed and the exit status
// is 1 (a script running it sees the failure).
func TestExampleCloudFiles(t *testing.T) {
	run := func(args ...string) (string, int) {
		cmd := exec.Command(filepath.Join(progDir, "cloud_files"), args...)
		cmd.Env = baseEnv
		out, _ := cmd.Output()
		return string(out), cmd.ProcessState.ExitCode()
	}
	missing := filepath.Join(t.TempDir(), "missing")
	out, code := run(missing+".inp", missing)
	if code != 1 || !strings.Contains(out, "failed: save /demo/beam.inp: stat ") {
		t.Errorf("cloud_files with parts that do not exist: exit %d\n%s", code, out)
	}
	out, code = run(filepath.Join(root, "examples", "data", "beam.inp"), filepath.Join(root, "examples", "data", "Bracket"))
	if code != 0 || strings.Contains(out, "failed") || strings.Count(out, "version ") != 5 {
		t.Errorf("cloud_files: exit %d\n%s", code, out)
	}
}

// The examples print the session's events and exit 0; when init fails they
// exit 1 with the reason on stderr.
func TestExamples(t *testing.T) {
	for _, name := range []string{"console_c", "console_cpp", "console_go"} {
		cmd := exec.Command(filepath.Join(progDir, name), "--seconds", "1")
		cmd.Env = baseEnv
		out, err := cmd.Output()
		if err != nil || !regexp.MustCompile(`(?m)^event 8 ConnectionState request=0 \{"operate":"ConnectionState".*"state":"connected"`).Match(out) {
			t.Errorf("%s --seconds 1: %v\n%s", name, err, out)
		}

		cmd = exec.Command(filepath.Join(progDir, name))
		cmd.Env = append(slices.Clone(baseEnv), "ISCSDK_ENDPOINT=ws://127.0.0.1:1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err = cmd.Output()
		if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(stderr.String(), "ws://127.0.0.1:1") || len(out) != 0 {
			t.Errorf("%s against a dead endpoint: %v\nstdout: %s\nstderr: %s", name, err, out, stderr.String())
		}
	}
}

// The examples sign their user in when asked, with no API token: with
// --device through the device grant (the code confirmed on iscd's page,
// as the demo does), with --sign-in alone through the browser (iscd's
// page, then back to the program's loopback); each prints where to sign
// in and who signed in, then gets its licence as with a token, and exits 0.
func TestExamplesSignIn(t *testing.T) {
	prompt := regexp.MustCompile(`^open (\S+) and confirm the code (\S+)$`)
	browser := regexp.MustCompile(`^continue in your browser \((\S+/oauth/authorize\?\S+)\)$`)
	for _, name := range []string{"console_c", "console_cpp", "console_go"} {
		for _, how := range []string{"--device", "--sign-in"} {
			t.Run(name+how, func(t *testing.T) {
				env := []string{"ISCSDK_TOKEN=", "ISCSDK_WORKSPACE=" + t.TempDir(), "ISCSDK_BROWSER=true", "ISCSDK_NO_BROWSER="} // a browser that opens nothing
				p := start(t, env, name, "--sign-in", how, "--seconds", "1")
				asked := p.expect("sign in: ")
				if how == "--device" {
					m := prompt.FindStringSubmatch(asked)
					if m == nil || m[1] != devEnv["ISCD_ADMIN_URL"]+"/device" {
						t.Fatalf("%s %s prompted: %q", name, how, asked)
					}
					confirmCode(t, m[2], "approve")
				} else {
					m := browser.FindStringSubmatch(asked)
					if m == nil {
						t.Fatalf("%s %s prompted: %q", name, how, asked)
					}
					signInInBrowser(t, m[1])
				}
				if who := p.expect("signed in: "); !strings.HasPrefix(who, "Demo engineer (demo) of ") {
					t.Fatalf("%s %s: signed in: %q", name, how, who)
				}
				if verdict := p.expect("licence check: "); !strings.Contains(verdict, `"valid":true`) && !strings.Contains(verdict, "valid=true") {
					t.Fatalf("%s %s: licence check: %s", name, how, verdict)
				}
				p.stdin.Close()
				for range p.lines {
				}
				if err := p.cmd.Wait(); err != nil {
					t.Fatalf("%s %s: %v\n%s", name, how, err, p.stderr.String())
				}
			})
		}
	}
}
