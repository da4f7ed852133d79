package deploy

import (
	"bytes"
	"context"
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
)

// podman returns podman's path, skipping the test where there is none or
// where the suite was not asked for (make test-deploy asks).
func podman(t testing.TB) string {
	t.Helper()
	if os.Getenv("ISCD_TEST_DEPLOY") != "1" {
		t.Skip("the image and pod tests run under make test-deploy (ISCD_TEST_DEPLOY=1)")
	}
	p, err := exec.LookPath("podman")
	if err != nil {
		skip(t, "podman is not installed (apt-get install podman runc catatonit; docs/deploy.md)")
	}
	return p
}

// built is what make built: iscd's version line, and the tag of the images.
func built(t testing.TB) (versionLine, tag string) {
	t.Helper()
	line := strings.TrimSpace(run(t, nil, filepath.Join(buildDir(t), "bin", "iscd"), "version"))
	f := strings.Fields(line) // iscd 0.1.0 (commit ...)
	if len(f) < 2 {
		t.Fatalf("iscd version: %q", line)
	}
	return line, f[1]
}

// image is localhost/NAME:TAG, which must exist (make images).
func image(t testing.TB, name, tag string) string {
	t.Helper()
	ref := "localhost/" + name + ":" + tag
	if _, err := tryRun(nil, podman(t), "image", "exists", ref); err != nil {
		t.Fatalf("image %s is missing (make images)", ref)
	}
	return ref
}

// freePort is a TCP port nothing listens on now, on loopback.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitHTTP waits until url answers 200, or fails the test after d.
func waitHTTP(t testing.TB, url string, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s did not answer 200 within %v", url, d)
		case <-tick.C:
		}
	}
}

// TestServerImage: the server image says the version and commit iscd was
// built from, in `iscd version` and in its labels, and serves as the user
// iscd (uid 10001), never root, on a read-only root.
func TestServerImage(t *testing.T) {
	pm := podman(t)
	line, tag := built(t)
	img := image(t, "iscd", tag)
	out := strings.TrimSpace(run(t, nil, pm, "run", "--rm", "--read-only", "--network=none", img, "version"))
	if out != line {
		t.Errorf("the image's iscd version is %q, the build's %q", out, line)
	}
	labels := run(t, nil, pm, "image", "inspect", "--format",
		`{{.Config.User}} {{index .Labels "org.opencontainers.image.version"}} {{index .Labels "org.opencontainers.image.revision"}}`, img)
	f := strings.Fields(labels)
	if len(f) != 3 || f[0] != "10001:10001" || f[1] != tag || !strings.Contains(line, "(commit "+f[2]+")") {
		t.Errorf("image user and labels %q do not match %q", labels, line)
	}

	port := freePort(t)
	name := "iscd-image-test-" + tag
	tryRun(nil, pm, "rm", "-f", name)
	run(t, nil, pm, "run", "-d", "--name", name, "--read-only", "--network=host", "--tmpfs", "/var/lib/iscd:rw,mode=1777",
		img, "serve", "--dev", "--listen", "127.0.0.1:"+itoa(port))
	t.Cleanup(func() { tryRun(nil, pm, "rm", "-f", "-t", "0", name) })
	waitHTTP(t, "http://127.0.0.1:"+itoa(port)+"/healthz", 30*time.Second)
	top := run(t, nil, pm, "top", name, "user", "huser", "args")
	if !strings.Contains(top, "iscd") || !strings.Contains(top, "10001") || strings.Contains(top, "root") {
		t.Errorf("iscd in the image does not run as iscd (10001):\n%s", top)
	}
}

// TestImagesListTheirContents: each image says what it holds, in
// /usr/share/doc/image-contents — the Debian package and version of every
// file taken from the build machine (as dpkg knows them here) and the Go
// modules its programs were built from (as go.mod requires them) — and no
// file it cannot account for.
func TestImagesListTheirContents(t *testing.T) {
	pm := podman(t)
	_, tag := built(t)
	dpkg := func(pkg string) string {
		return strings.TrimSpace(run(t, nil, "dpkg-query", "-W", "-f=${Version}", pkg))
	}
	goMod, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	websocket := regexp.MustCompile(`github.com/gorilla/websocket (v\S+)`).FindSubmatch(goMod)
	for name, want := range map[string][]string{
		"iscd":        {"deb libc6 " + dpkg("libc6"), "deb ca-certificates " + dpkg("ca-certificates"), "go github.com/gorilla/websocket " + string(websocket[1])},
		"iscd-worker": {"deb calculix-ccx " + dpkg("calculix-ccx"), "deb bubblewrap " + dpkg("bubblewrap"), "deb libblas3 " + dpkg("libblas3"), "go github.com/ebitengine/purego "},
	} {
		img := image(t, name, tag)
		ctr := strings.TrimSpace(run(t, nil, pm, "create", img))
		t.Cleanup(func() { tryRun(nil, pm, "rm", ctr) })
		dest := filepath.Join(t.TempDir(), "contents")
		run(t, nil, pm, "cp", ctr+":/usr/share/doc/image-contents", dest)
		b, err := os.ReadFile(dest)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		for _, w := range want {
			if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, w) }) {
				t.Errorf("%s's contents have no line %q:\n%s", name, w, b)
			}
		}
		if strings.Contains(string(b), "\nfile ") {
			t.Errorf("%s holds files no package owns:\n%s", name, b)
		}
	}
}

// TestWorkerImageSolvesADeck: CalculiX in the worker image, on a
// read-only root as the user iscd, solves beam.inp to the same results as
// this machine's ccx.
func TestWorkerImageSolvesADeck(t *testing.T) {
	pm := podman(t)
	_, tag := built(t)
	img := image(t, "iscd-worker", tag)
	deck, err := os.ReadFile(filepath.Join(root, "examples", "data", "beam.inp"))
	if err != nil {
		t.Fatal(err)
	}
	inImage, onHost := t.TempDir(), t.TempDir()
	for _, d := range []string{inImage, onHost} {
		if err := os.WriteFile(filepath.Join(d, "beam.inp"), deck, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	run(t, nil, pm, "run", "--rm", "--read-only", "--network=none", "--tmpfs", "/tmp", "-v", inImage+":/job", "-w", "/job",
		"--entrypoint", "/usr/bin/ccx", img, "-i", "beam")
	got, err := os.ReadFile(filepath.Join(inImage, "beam.dat"))
	if err != nil || len(got) == 0 {
		t.Fatalf("no results from the image's ccx: %v", err)
	}
	ccx, err := exec.LookPath("ccx")
	if err != nil {
		skip(t, "no ccx on this machine to compare with (apt-get install calculix-ccx)")
	}
	cmd := exec.Command(ccx, "-i", "beam")
	cmd.Dir = onHost
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ccx: %v\n%s", err, out)
	}
	want, _ := os.ReadFile(filepath.Join(onHost, "beam.dat"))
	if !bytes.Equal(got, want) {
		t.Errorf("the image's beam.dat differs from this machine's (%d and %d bytes)", len(got), len(want))
	}
	t.Logf("beam.dat: %d bytes, identical", len(got))
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestWorkerImageSandboxNeeds: what the chart asks for the workers is
// what their sandbox needs. In a user namespace of its own (the pod's
// hostUsers: false) with /proc unmasked (procMount: Unmasked), without
// privilege, the worker builds its bubblewrap sandbox and goes on to dial
// iscd; with /proc masked, as runtimes mask it by default, it refuses to
// start.
func TestWorkerImageSandboxNeeds(t *testing.T) {
	pm := podman(t)
	_, tag := built(t)
	img := image(t, "iscd-worker", tag)
	for _, c := range []struct {
		name, want string
		opts       []string
	}{
		{"unmasked", `"msg":"solvers run in a sandbox"`, []string{"--security-opt", "unmask=ALL"}},
		{"masked", "Can't mount proc", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			name := "iscd-worker-sandbox-test-" + c.name
			tryRun(nil, pm, "rm", "-f", name)
			args := append([]string{"run", "-d", "--name", name, "--read-only", "--network=none",
				"--uidmap", "0:200000:65536", "--gidmap", "0:200000:65536", "--tmpfs", "/tmp", "--tmpfs", "/var/lib/iscd:rw,mode=1777",
				"-e", "ISCD_WORKER_TOKEN=isw_0000000000000000_x"}, c.opts...)
			args = append(args, img, "--server=http://127.0.0.1:1", "--dir=/var/lib/iscd/jobs", "--solver=calculix", "--solver-open-files=1024")
			run(t, nil, pm, args...)
			t.Cleanup(func() { tryRun(nil, pm, "rm", "-f", "-t", "0", name) })
			deadline := time.Now().Add(30 * time.Second)
			for {
				logs, _ := exec.Command(pm, "logs", name).CombinedOutput() // the container's stderr is podman's
				if strings.Contains(string(logs), c.want) {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("no %q from the worker in 30 s:\n%s", c.want, logs)
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}
