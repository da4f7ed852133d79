package winetest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
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

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/release"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/store"
)

const mingw = "x86_64-w64-mingw32-"

// Set up once by TestMain.
var (
	root    string            // the repository
	tmp     string            // removed at the end
	winDir  string            // make windows's output: iscsdk.dll, iscsdk.lib, console_*.exe
	progDir string            // every .exe with iscsdk.dll next to it, as an application ships
	noMingw string            // why the mingw tests are skipped, if they are
	noWine  string            // why the Wine tests are skipped, if they are
	wine    string            // the wine64 loader
	wineEnv []string          // the environment of every Windows program
	devEnv  map[string]string // iscd's dev.env
	// releaseKey is the dev iscd's release key: it signs what the tests
	// publish, as a vendor's does offline.
	releaseKey release.PrivateKey
	setupDur   time.Duration
)

func TestMain(m *testing.M) {
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "winetest:", err)
		code = 1
	}
	os.Exit(code)
}

func setup(m *testing.M) (code int, err error) {
	began := time.Now()
	if root, err = filepath.Abs("../.."); err != nil {
		return 0, err
	}
	if tmp, err = os.MkdirTemp("", "winetest"); err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)

	for _, tool := range []string{"gcc", "g++", "objdump", "dlltool", "nm"} {
		if _, err := exec.LookPath(mingw + tool); err != nil {
			noMingw = fmt.Sprintf("mingw-w64 is not installed (no %s%s): apt-get install gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64", mingw, tool)
			break
		}
	}
	var wineserver string
	wine, wineserver = findWine()
	switch {
	case noMingw != "":
		noWine = noMingw
	case wine == "":
		noWine = "Wine is not installed (no wine64): apt-get install wine64"
	}
	if noMingw != "" {
		fmt.Fprintln(os.Stderr, "winetest: skipping:", noMingw)
		return m.Run(), nil
	}

	iscd := ""
	if dir := os.Getenv("ISCSDK_BUILD_DIR"); dir != "" {
		winDir, iscd = filepath.Join(dir, "windows"), filepath.Join(dir, "bin", "iscd")
		for _, f := range []string{filepath.Join(winDir, "iscsdk.dll"), iscd} {
			if _, err := os.Stat(f); err != nil {
				return 0, fmt.Errorf("%v: run `make windows bin` first (or unset ISCSDK_BUILD_DIR)", err)
			}
		}
	} else {
		build := filepath.Join(tmp, "build")
		if err := run(root, nil, "make", "windows", "bin", "BUILD="+build); err != nil {
			return 0, err
		}
		winDir, iscd = filepath.Join(build, "windows"), filepath.Join(build, "bin", "iscd")
	}

	// The prefix takes ~20 s to make: start it first, build meanwhile.
	var prefixDone chan error
	if noWine == "" {
		wineEnv = []string{
			"PATH=" + os.Getenv("PATH"),
			"HOME=" + tmp,
			"WINEPREFIX=" + filepath.Join(tmp, "prefix"),
			"WINEDEBUG=-all",
			"WINEDLLOVERRIDES=mscoree,mshtml=", // no Mono or Gecko install prompts
			// Wine names files on Linux in the Unix locale's charset: UTF-8
			// keeps a CJK Windows name readable on the Linux side. The
			// programs see UTF-16 either way.
			"LANG=C.UTF-8",
		}
		prefixDone = make(chan error, 1)
		go func() {
			err := run(tmp, wineEnv, wine, "wineboot", "-i")
			if err == nil {
				err = run(tmp, wineEnv, wineserver, "-w") // until wineboot's work is done
			}
			prefixDone <- err
		}()
		defer func() { // never leave a wineserver behind, even on a failed setup
			if prefixDone != nil {
				<-prefixDone
			}
			kill := exec.Command(wineserver, "-k")
			kill.Env = wineEnv
			kill.Run()
		}()
	}

	if progDir, err = buildPrograms(); err != nil {
		return 0, err
	}

	if noWine == "" {
		err := <-prefixDone
		prefixDone = nil
		if err != nil {
			return 0, fmt.Errorf("making the Wine prefix: %v", err)
		}
		// The test-harness shim (see tests/windows/processprng.c).
		shim, err := os.ReadFile(filepath.Join(tmp, "bcryptprimitives.dll"))
		if err != nil {
			return 0, err
		}
		if err := os.WriteFile(filepath.Join(tmp, "prefix", "drive_c", "windows", "system32", "bcryptprimitives.dll"), shim, 0o644); err != nil {
			return 0, err
		}
		stop, err := startISCD(iscd, filepath.Join(tmp, "iscd-data"))
		if err != nil {
			return 0, err
		}
		defer stop()
		for k, v := range devEnv {
			wineEnv = append(wineEnv, k+"="+v)
		}
	} else {
		fmt.Fprintln(os.Stderr, "winetest: skipping the Wine tests:", noWine)
	}
	setupDur = time.Since(began)
	fmt.Fprintf(os.Stderr, "winetest: set up in %v\n", setupDur.Round(time.Second))
	return m.Run(), nil
}

// findWine returns the 64-bit Wine loader and wineserver, or "".
func findWine() (loader, server string) {
	find := func(names ...string) string {
		for _, n := range names {
			if p, err := exec.LookPath(n); err == nil {
				return p
			}
		}
		return ""
	}
	loader = find("wine64", "/usr/lib/wine/wine64", "/usr/lib64/wine/wine64")
	server = find("wineserver", "/usr/lib/wine/wineserver64", "/usr/lib/wine/wineserver")
	if loader == "" || server == "" {
		return "", ""
	}
	return loader, server
}

// buildPrograms puts iscsdk.dll, the examples and the test programs in one
// directory, as an application ships the DLL next to its .exe, and builds
// the ProcessPrng shim and the device tests into tmp.
func buildPrograms() (string, error) {
	dir := filepath.Join(tmp, "app")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", err
	}
	for _, f := range []string{"iscsdk.dll", "console_c.exe", "console_cpp.exe"} {
		b, err := os.ReadFile(filepath.Join(winDir, f))
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o755); err != nil {
			return "", err
		}
	}
	lib := filepath.Join(winDir, "iscsdk.lib")
	static := []string{"-s", "-static-libgcc", "-static"}
	for _, args := range [][]string{
		append([]string{mingw + "gcc", "-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-Iinclude",
			"tests/windows/flow.c", "-o", filepath.Join(dir, "flow.exe"), lib}, static...),
		append([]string{mingw + "g++", "-std=c++11", "-pedantic", "-Wall", "-Wextra", "-Werror", "-Iinclude",
			"tests/windows/wpath.cpp", "-o", filepath.Join(dir, "wpath.exe"), lib, "-static-libstdc++"}, static...),
		append([]string{mingw + "gcc", "-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-Iinclude",
			"examples/c/upgrade.c", "-o", filepath.Join(dir, "upgrade.exe"), lib}, static...),
		append([]string{mingw + "gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-Iinclude",
			"tests/cabi/signin.c", "-o", filepath.Join(dir, "signin.exe"), lib, "-pthread"}, static...),
		append([]string{mingw + "gcc", "-std=c99", "-Wall", "-Wextra", "-Werror",
			"tests/windows/installer.c", "-o", filepath.Join(dir, "installer.exe")}, static...),
		{mingw + "gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-O2", "-s", "-shared",
			"tests/windows/processprng.c", "-o", filepath.Join(tmp, "bcryptprimitives.dll"), "-lbcrypt"},
	} {
		if err := run(root, nil, args[0], args[1:]...); err != nil {
			return "", err
		}
	}
	// The device package's own tests, Windows sources included.
	goEnv := append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if err := run(root, goEnv, "go", "test", "-c", "-o", filepath.Join(dir, "device_test.exe"), "./internal/device"); err != nil {
		return "", err
	}
	// The solver sandbox's Windows side (a job object, a restricted token).
	if err := run(root, goEnv, "go", "test", "-c", "-o", filepath.Join(dir, "solverrun_test.exe"), "./internal/solver/run"); err != nil {
		return "", err
	}
	// The refresh-token keyring's Windows side (DPAPI).
	if err := run(root, goEnv, "go", "test", "-c", "-o", filepath.Join(dir, "keyring_test.exe"), "./internal/keyring"); err != nil {
		return "", err
	}
	return dir, nil
}

// startISCD starts `iscd serve --dev` on Linux loopback and reads its dev.env.
func startISCD(bin, data string) (stop func(), err error) {
	b, err := servertest.StartBinary(bin, data, "--heartbeat", "500ms")
	if err != nil {
		return nil, err
	}
	devEnv, releaseKey = b.Env, b.ReleaseKey
	return b.Stop, nil
}

func run(dir string, env []string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

func needMingw(t *testing.T) {
	t.Helper()
	if noMingw != "" {
		t.Skip(noMingw)
	}
}

func needWine(t *testing.T) {
	t.Helper()
	if noWine != "" {
		t.Skip(noWine)
	}
}

// winPath is the Windows name of a Linux path under Wine (drive Z: is /).
func winPath(p string) string { return `Z:` + strings.ReplaceAll(p, "/", `\`) }

// linuxPath is the reverse of winPath.
func linuxPath(p string) string {
	return strings.ReplaceAll(strings.TrimPrefix(p, `Z:`), `\`, "/")
}

// ---- the binaries, checked with binutils ----

// systemDLLs may be imported by what make windows builds: Windows' own.
var systemDLLs = []string{"kernel32.dll", "msvcrt.dll", "ntdll.dll", "advapi32.dll", "ws2_32.dll", "user32.dll",
	"bcrypt.dll", "iphlpapi.dll", "shell32.dll", "ole32.dll", "winmm.dll", "userenv.dll", "crypt32.dll"}

// imports lists the DLLs a PE file imports, lower-cased.
func imports(t *testing.T, file string) []string {
	t.Helper()
	out, err := exec.Command(mingw+"objdump", "-p", file).Output()
	if err != nil {
		t.Fatalf("objdump -p %s: %v", file, err)
	}
	var dlls []string
	for _, m := range regexp.MustCompile(`(?m)^\s*DLL Name: (\S+)`).FindAllSubmatch(out, -1) {
		dlls = append(dlls, strings.ToLower(string(m[1])))
	}
	return dlls
}

// Only system DLLs: no libgcc_s, libwinpthread or libstdc++ DLL to ship;
// the .exe files need iscsdk.dll and nothing else.
func TestImportsAreSystemDLLs(t *testing.T) {
	needMingw(t)
	for _, f := range []string{"iscsdk.dll", "console_c.exe", "console_cpp.exe", "flow.exe", "wpath.exe"} {
		dlls := imports(t, filepath.Join(progDir, f))
		if len(dlls) == 0 {
			t.Errorf("%s: no imports found", f)
		}
		for _, d := range dlls {
			ok := slices.Contains(systemDLLs, d) || strings.HasPrefix(d, "api-ms-win-") || (d == "iscsdk.dll" && f != "iscsdk.dll")
			if !ok {
				t.Errorf("%s imports %s, which is not a system DLL", f, d)
			}
		}
		if f != "iscsdk.dll" && !slices.Contains(dlls, "iscsdk.dll") {
			t.Errorf("%s does not import iscsdk.dll: %v", f, dlls)
		}
		t.Logf("%s imports %v", f, dlls)
	}
}

// declared lists the functions include/iscsdk/iscsdk.h declares.
func declared(t *testing.T) []string {
	t.Helper()
	header, err := os.ReadFile(filepath.Join(root, "include", "iscsdk", "iscsdk.h"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^ISCSDK_API .*\b(iscsdk_\w+)\(`).FindAllSubmatch(header, -1) {
		names = append(names, string(m[1]))
	}
	slices.Sort(names)
	if len(names) < 20 {
		t.Fatalf("found only %d declarations in iscsdk.h", len(names))
	}
	return names
}

// dllExports lists the names a DLL exports.
func dllExports(t *testing.T, dll string) []string {
	t.Helper()
	out, err := exec.Command(mingw+"objdump", "-p", dll).Output()
	if err != nil {
		t.Fatalf("objdump -p %s: %v", dll, err)
	}
	_, table, ok := bytes.Cut(out, []byte("[Ordinal/Name Pointer] Table"))
	if !ok {
		t.Fatalf("%s: no export name table in objdump -p", dll)
	}
	var names []string
	for _, line := range strings.Split(string(table), "\n") {
		m := regexp.MustCompile(`^\s*\[\s*\d+\]\s+(\S+)$`).FindStringSubmatch(line)
		if m == nil {
			if len(names) > 0 {
				break
			}
			continue
		}
		names = append(names, m[1])
	}
	slices.Sort(names)
	return names
}

// iscsdk.dll exports exactly the header's functions (not the internal
// isc_go_* ones), and so does its import library.
func TestExportsMatchHeader(t *testing.T) {
	needMingw(t)
	want := declared(t)
	if got := dllExports(t, filepath.Join(winDir, "iscsdk.dll")); !slices.Equal(got, want) {
		t.Errorf("iscsdk.dll exports\n%v\nthe header declares\n%v", got, want)
	}
	out, err := exec.Command(mingw+"nm", filepath.Join(winDir, "iscsdk.lib")).Output()
	if err != nil {
		t.Fatal(err)
	}
	var imps []string
	for _, m := range regexp.MustCompile(`(?m) I __imp_(\w+)$`).FindAllSubmatch(out, -1) {
		imps = append(imps, string(m[1]))
	}
	slices.Sort(imps)
	if !slices.Equal(imps, want) {
		t.Errorf("iscsdk.lib imports\n%v\nthe header declares\n%v", imps, want)
	}
	if b, err := os.ReadFile(filepath.Join(winDir, "iscsdk.lib")); err != nil || !bytes.Contains(b, []byte("iscsdk.dll\x00")) {
		t.Errorf("iscsdk.lib does not name iscsdk.dll (%v)", err)
	}
}

// The headers compile for Windows without extensions or warnings: C99
// (using and building), C++11 with the std::wstring overloads.
func TestHeadersCompileWithMingw(t *testing.T) {
	needMingw(t)
	dir := t.TempDir()
	c := filepath.Join(dir, "h.c")
	os.WriteFile(c, []byte("#include <iscsdk/iscsdk.h>\nint main(void) { return iscsdk_version_number() == ISCSDK_VERSION_NUMBER ? 0 : 1; }\n"), 0o600)
	cpp := filepath.Join(dir, "h.cpp")
	os.WriteFile(cpp, []byte(`#include <iscsdk/iscsdk.hpp>
int main() {
    iscsdk::Sdk sdk;
    std::wstring p(L"C:\\\u6a21\u578b.prt");
    return sdk.Save(p) + sdk.SaveAs(p, "/a.prt") + sdk.SelectSaveAsPath(p) + sdk.GetSolution(p) +
           sdk.GetLicenseFileRequest(p) + sdk.GetLicenseFileRequest("a.lic") + (int)iscsdk::ToUtf8(p).size();
}
`), 0o600)
	inc := "-I" + filepath.Join(root, "include")
	strict := []string{"-pedantic", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", inc}
	for _, args := range [][]string{
		append([]string{mingw + "gcc", "-std=c99", c}, strict...),
		append([]string{mingw + "gcc", "-std=c99", "-DISCSDK_BUILDING", c}, strict...),
		append([]string{mingw + "gcc", "-std=c11", "-Wconversion", c}, strict...),
		append([]string{mingw + "g++", "-x", "c++", "-std=c++11", c}, strict...),
		append([]string{mingw + "g++", "-std=c++11", cpp}, strict...),
		append([]string{mingw + "g++", "-std=c++17", cpp}, strict...),
	} {
		if err := run(dir, nil, args[0], args[1:]...); err != nil {
			t.Error(err)
		}
	}
}

// ---- under Wine ----

// program is a running Windows program.
type program struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // stdout, line by line; closed at EOF
	out    bytes.Buffer
	stderr bytes.Buffer
}

func start(t *testing.T, exe string, args ...string) *program {
	t.Helper()
	return startEnv(t, nil, exe, args...)
}

// startEnv is start with more environment variables.
func startEnv(t *testing.T, env []string, exe string, args ...string) *program {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	p := &program{t: t, cmd: exec.CommandContext(ctx, wine, append([]string{exe}, args...)...), lines: make(chan string, 1024)}
	p.cmd.Dir = progDir
	p.cmd.Env = append(slices.Clone(wineEnv), env...)
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
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.lines <- strings.TrimRight(sc.Text(), "\r")
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
				p.t.Fatalf("%s exited before printing %q:\n%s%s", p.cmd.Args[1], prefix, p.out.String(), p.stderr.String())
			}
			p.out.WriteString(line + "\n")
			if rest, found := strings.CutPrefix(line, prefix); found {
				return rest
			}
		case <-timeout:
			p.t.Fatalf("%s: no %q within 60s:\n%s", p.cmd.Args[1], prefix, p.out.String())
		}
	}
}

// wait reads the rest of the output and waits for the program to exit.
func (p *program) wait() error {
	p.stdin.Close()
	for line := range p.lines {
		p.out.WriteString(line + "\n")
	}
	return p.cmd.Wait()
}

var summary = regexp.MustCompile(`(?m)^(\d+) passed, (\d+) failed$`)

// finish waits for a test program and checks that every check passed.
func (p *program) finish() {
	p.t.Helper()
	err := p.wait()
	m := summary.FindStringSubmatch(p.out.String())
	if m == nil || m[2] != "0" || m[1] == "0" || err != nil {
		p.t.Fatalf("%s: %v\n%s%s", strings.Join(p.cmd.Args[1:], " "), err, p.out.String(), p.stderr.String())
	}
	p.t.Logf("%s: %s", p.cmd.Args[1], m[0])
}

// The examples, as a vendor builds them, run under Wine: connected, a
// licence for this device, checked offline and the verdict sent.
func TestExamplesUnderWine(t *testing.T) {
	needWine(t)
	for _, exe := range []string{"console_c.exe", "console_cpp.exe"} {
		began := time.Now()
		p := start(t, exe, "--seconds", "2")
		if err := p.wait(); err != nil {
			t.Errorf("%s: %v\n%s%s", exe, err, p.out.String(), p.stderr.String())
			continue
		}
		for _, want := range []string{
			`(?m)^event 8 ConnectionState request=0 \{"operate":"ConnectionState".*"state":"connected"`,
			`(?m)^event 2 LicenseVerify request=1 \{"operate":"LicenseVerify","params":\{.*"Status":"success"`,
			`(?m)^licence check: \{"valid":true,"code":"ok"`,
		} {
			if !regexp.MustCompile(want).MatchString(p.out.String()) {
				t.Errorf("%s: no line matching %s:\n%s%s", exe, want, p.out.String(), p.stderr.String())
			}
		}
		t.Logf("%s --seconds 2: ran in %v", exe, time.Since(began).Round(time.Millisecond))
	}
}

// The C flow: init with a CJK workspace, licence request, offline verify
// and notify, licence files with CJK names, per-thread last error, a
// CJK-named part saved to the cloud and opened back, pushed events through
// the callback, shut-out.
func TestFlowUnderWine(t *testing.T) {
	needWine(t)
	dir := t.TempDir()
	p := start(t, "flow.exe", winPath(dir))
	device := p.expect("DEVICE ")
	session := strings.TrimSpace(p.expect("READY "))
	const notices = 20
	postNotices(t, session, notices)
	fmt.Fprintf(p.stdin, "SENT %d\n", notices)
	p.finish()

	// The device fingerprint from the Windows sources: the volume serial and
	// a board id (SMBIOS or the MachineGuid) are always there.
	parts := strings.Split(device, "|")
	if len(parts) != 4 || !regexp.MustCompile(`^[0-9A-F]{4}-[0-9A-F]{4}$`).MatchString(parts[1]) || parts[2] == "" {
		t.Errorf("device fingerprint %q: want a volume serial and a board part", device)
	}

	// The licence files are where the program said, under their CJK names.
	var files []string
	for _, m := range regexp.MustCompile(`(?m)^FILE (.+)$`).FindAllStringSubmatch(p.out.String(), -1) {
		files = append(files, linuxPath(m[1]))
	}
	want := []string{
		filepath.Join(dir, "许可证-模型.lic"),
		filepath.Join(dir, "工作区", "licenses", "许可证-模型.lic"),
	}
	if !slices.Equal(files, want) {
		t.Errorf("licence files %q, want %q", files, want)
	}
	for _, f := range want {
		if b, err := os.ReadFile(f); err != nil || !bytes.HasPrefix(b, []byte("ISL1.")) {
			t.Errorf("%s: %v %.20q", f, err, b)
		}
	}

	// The verdict reached the licence's audit log.
	var audit []store.AuditEntry
	a := &adminapi.Client{BaseURL: devEnv["ISCD_ADMIN_URL"], Token: devEnv["ISCD_ADMIN_TOKEN"]}
	if err := a.Do(context.Background(), "GET", "/licenses/"+server.DevLicense+"/audit?limit=1000", nil, &audit); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(audit, func(e store.AuditEntry) bool {
		return e.Event == "verify-failed" && e.Detail == "winetest: the compiled key says no"
	}) {
		t.Errorf("the Windows program's LicenseVerifyNotify is not in the audit log: %+v", audit)
	}

	// The part saved from a CJK name came back into the CJK workspace.
	opened := regexp.MustCompile(`(?m)^OPENED (.+)$`).FindStringSubmatch(p.out.String())
	if opened == nil {
		t.Fatalf("flow.exe opened no cloud file:\n%s", p.out.String())
	}
	if got, want := linuxPath(opened[1]), filepath.Join(dir, "工作区", "files", "win", "图纸 1.prt"); got != want {
		t.Errorf("opened %q, want %q", got, want)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "工作区", "files", "win", "图纸 1.prt")); err != nil || string(b) != "solid bracket\n" {
		t.Errorf("the opened part: %q %v", b, err)
	}
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

// iscsdk.hpp's std::wstring overloads: a UTF-16 path with CJK, Cyrillic
// and a surrogate pair reaches the file system intact.
func TestWidePathsUnderWine(t *testing.T) {
	needWine(t)
	dir := t.TempDir()
	p := start(t, "wpath.exe", winPath(dir))
	p.finish()
	want := filepath.Join(dir, "模型-файл-📄.lic")
	if b, err := os.ReadFile(want); err != nil || !bytes.HasPrefix(b, []byte("ISL1.")) {
		t.Errorf("%s: %v", want, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "工作区-w", "logs")); err != nil {
		t.Errorf("the CJK workspace: %v", err)
	}
}

// The device package's tests, Windows sources included, pass on "Windows".
func TestDevicePackageUnderWine(t *testing.T) {
	needWine(t)
	p := start(t, "device_test.exe", "-test.v", "-test.run", "Test")
	err := p.wait()
	if err != nil || !strings.Contains(p.out.String(), "\nPASS\n") {
		t.Fatalf("device_test.exe: %v\n%s%s", err, p.out.String(), p.stderr.String())
	}
	for _, line := range strings.Split(p.out.String(), "\n") {
		if strings.Contains(line, "info_windows_test.go") || strings.Contains(line, "Info() =") {
			t.Log(strings.TrimSpace(line))
		}
	}
}

// The solver sandbox on "Windows": a command runs in a job object with a
// restricted token, and a time limit ends the job, children included.
// Wine does not enforce the job's memory and process limits or the
// token's restrictions: those are not tested here (docs/compute.md).
func TestSolverSandboxUnderWine(t *testing.T) {
	needWine(t)
	p := start(t, "solverrun_test.exe", "-test.v", "-test.run", "TestWindowsSandbox")
	err := p.wait()
	if err != nil || !strings.Contains(p.out.String(), "\nPASS\n") {
		t.Fatalf("solverrun_test.exe: %v\n%s%s", err, p.out.String(), p.stderr.String())
	}
}

// The refresh-token keyring on "Windows": the token is sealed with DPAPI
// (CryptProtectData, user scope) — the file on disk does not hold it —
// read back by another Keyring, replaced and deleted; a damaged file is
// refused (internal/keyring's TestFile and TestFileDamaged, run by Wine).
func TestKeyringDPAPIUnderWine(t *testing.T) {
	needWine(t)
	p := start(t, "keyring_test.exe", "-test.v", "-test.run", "TestFile")
	err := p.wait()
	out := p.out.String()
	if err != nil || !strings.Contains(out, "--- PASS: TestFile ") || !strings.Contains(out, "--- PASS: TestFileDamaged ") || !strings.Contains(out, "\nPASS\n") {
		t.Fatalf("keyring_test.exe: %v\n%s%s", err, out, p.stderr.String())
	}
}

// ---- CMake ----

// CMake with cmake/mingw-w64-x86_64.cmake cross-builds the DLL and the
// examples and installs a package with which a Windows consumer's
// find_package(iscsdk) gives iscsdk::iscsdk (IMPORTED_IMPLIB iscsdk.lib,
// IMPORTED_LOCATION iscsdk.dll); the consumer's .exe runs under Wine.
func TestCMakeToolchain(t *testing.T) {
	needMingw(t)
	if _, err := exec.LookPath("cmake"); err != nil {
		t.Skip("cmake is not installed: apt-get install cmake")
	}
	dir := t.TempDir()
	toolchain := "-DCMAKE_TOOLCHAIN_FILE=" + filepath.Join(root, "cmake", "mingw-w64-x86_64.cmake")
	tree, prefix, consumer := filepath.Join(dir, "tree"), filepath.Join(dir, "prefix"), filepath.Join(dir, "consumer")
	// Not the flags of a make that runs this test (-n, a jobserver).
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "MAKEFLAGS=") || strings.HasPrefix(kv, "MFLAGS=") || strings.HasPrefix(kv, "MAKELEVEL=")
	})
	for _, args := range [][]string{
		{"-S", root, "-B", tree, toolchain, "-DCMAKE_INSTALL_PREFIX=" + prefix},
		{"--build", tree, "-j", "2"},
		{"--install", tree},
		{"-S", filepath.Join(root, "tests", "consumer"), "-B", consumer, toolchain, "-DCMAKE_PREFIX_PATH=" + prefix},
		{"--build", consumer},
	} {
		if err := run(root, env, "cmake", args...); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"bin/iscsdk.dll", "lib/iscsdk.lib", "include/iscsdk/iscsdk.h", "include/iscsdk/iscsdk.hpp", "lib/cmake/iscsdk/iscsdkConfig.cmake"} {
		if _, err := os.Stat(filepath.Join(prefix, f)); err != nil {
			t.Error(err)
		}
	}
	if got, want := dllExports(t, filepath.Join(prefix, "bin", "iscsdk.dll")), declared(t); !slices.Equal(got, want) {
		t.Errorf("the CMake-built iscsdk.dll exports\n%v\nthe header declares\n%v", got, want)
	}
	for _, f := range []string{filepath.Join(tree, "console_c.exe"), filepath.Join(tree, "console_cpp.exe"), filepath.Join(consumer, "app.exe")} {
		if dlls := imports(t, f); !slices.Contains(dlls, "iscsdk.dll") || slices.ContainsFunc(dlls, func(d string) bool { return strings.HasPrefix(d, "lib") }) {
			t.Errorf("%s imports %v", f, dlls)
		}
	}

	needWine(t)
	cmd := exec.Command(wine, "app.exe") // iscsdk.dll was copied next to it
	cmd.Dir = consumer
	cmd.Env = wineEnv
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "iscsdk_version_number 100, ISCSDK_VERSION_NUMBER 100") {
		t.Errorf("the consumer under Wine: %v\n%s", err, out)
	}
}

// The per-user defaults on Windows: credentials from
// %LOCALAPPDATA%\iscsdk\credentials (a token must not roam with the
// profile), the workspace (its log) in %LOCALAPPDATA%\iscsdk.
func TestPerUserDirsUnderWine(t *testing.T) {
	needWine(t)
	homes, _ := filepath.Glob(filepath.Join(tmp, "prefix", "drive_c", "users", "*", "AppData"))
	homes = slices.DeleteFunc(homes, func(h string) bool { return strings.Contains(h, "/Public/") })
	if len(homes) != 1 {
		t.Fatalf("the Wine user's AppData: %v", homes)
	}
	appData, localAppData := filepath.Join(homes[0], "Roaming"), filepath.Join(homes[0], "Local")
	var creds strings.Builder
	for _, k := range []string{"ISCSDK_ENDPOINT", "ISCSDK_TOKEN", "ISCSDK_PRODUCT"} {
		fmt.Fprintf(&creds, "%s=%s\n", k, devEnv[k])
	}
	if err := os.MkdirAll(filepath.Join(localAppData, "iscsdk"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A file in the roaming profile is not read.
	os.MkdirAll(filepath.Join(appData, "iscsdk"), 0o755)
	os.WriteFile(filepath.Join(appData, "iscsdk", "credentials"), []byte("ISCSDK_TOKEN=isk_0000000000000000_roaming\n"), 0o600)
	if err := os.WriteFile(filepath.Join(localAppData, "iscsdk", "credentials"), []byte(creds.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(localAppData, "iscsdk", "logs", "iscsdk.log")
	os.Remove(log)

	cmd := exec.Command(wine, "console_c.exe", "--seconds", "1")
	cmd.Dir = progDir
	cmd.Env = slices.DeleteFunc(slices.Clone(wineEnv), func(kv string) bool {
		return strings.HasPrefix(kv, "ISCSDK_ENDPOINT=") || strings.HasPrefix(kv, "ISCSDK_TOKEN=") || strings.HasPrefix(kv, "ISCSDK_PRODUCT=")
	})
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"state":"connected"`) {
		t.Fatalf("console_c.exe with only the credentials file: %v\n%s", err, out)
	}
	if _, err := os.Stat(log); err != nil {
		t.Errorf("the default workspace is not %%LOCALAPPDATA%%\\iscsdk: %v", err)
	}
}
