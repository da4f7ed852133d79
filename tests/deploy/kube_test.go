package deploy

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// stack is the chart's manifests running as pods under podman kube play,
// on the host's network (hostNetwork: true), each pod on ports of its own.
//
// podman runs pods, not controllers: each workload's pod template (a
// Deployment's, a StatefulSet's) becomes a Pod, one per replica, and the
// Services, the PodDisruptionBudget and the NetworkPolicies have nothing
// to act on here. What podman 4.3 cannot take is replaced, and nothing
// else: Secret volumes (kube play crashes on them) become host
// directories holding the same files, mode 0400, owned by the pod's user;
// emptyDir and volume claims become host directories; containerPorts are
// dropped (podman makes them port mappings, which the host's network
// refuses; they only inform there).
type stack struct {
	t       *testing.T
	pm, dir string
	tag     string
	secrets map[string]map[string]string // the Secrets the operator made: name -> key -> value
	pods    []string

	pgPort, s3Port int
	replicas       []*replica
	adminToken     string
	lbAddr         string   // the balancer in front of the replicas
	env            []string // the programs' environment: endpoint, token, product, public key
}

type replica struct {
	pod               string
	port, metricsPort int
}

func (r *replica) url() string { return "http://127.0.0.1:" + strconv.Itoa(r.port) }

func newStack(t *testing.T, tag string) *stack {
	s := &stack{t: t, pm: podman(t), dir: t.TempDir(), tag: tag, secrets: map[string]map[string]string{}}
	// The pods' files must be reachable by their user (10001).
	if err := os.Chmod(s.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.down)
	return s
}

// set are the --set values every rendering takes: this machine's images,
// the host's network, the stores on their ports.
func (s *stack) set(extra ...string) []string {
	return append([]string{
		"hostNetwork=true",
		"images.iscd=localhost/iscd:" + s.tag,
		"images.worker=localhost/iscd-worker:" + s.tag,
		"images.postgresql=localhost/iscd-postgresql:" + s.tag,
		"images.versitygw=localhost/iscd-versitygw:" + s.tag,
		"postgresql.port=" + strconv.Itoa(s.pgPort),
		"versitygw.port=" + strconv.Itoa(s.s3Port),
		fmt.Sprintf("database.url=postgres://iscd@127.0.0.1:%d/iscd?sslmode=disable", s.pgPort),
		fmt.Sprintf("objectStore.url=s3://iscd-chunks?endpoint=http://127.0.0.1:%d&region=us-east-1", s.s3Port),
	}, extra...)
}

// secret makes a Secret as an operator would (kubectl create secret), as
// podman 4.3 reads them for secretKeyRef: a JSON object of base64 values.
func (s *stack) secret(name string, data map[string]string) {
	s.t.Helper()
	enc := map[string]string{}
	for k, v := range data {
		enc[k] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	b, _ := json.Marshal(enc)
	tryRun(nil, s.pm, "secret", "rm", name)
	run(s.t, strings.NewReader(string(b)), s.pm, "secret", "create", name, "-")
	s.secrets[name] = data
}

// hostDir is a directory for a pod's volume, owned by the pods' user.
func (s *stack) hostDir(pod, vol string, mode os.FileMode) string {
	s.t.Helper()
	d := filepath.Join(s.dir, "volumes", pod, vol)
	if err := os.MkdirAll(d, mode); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(filepath.Dir(d)), 0o755); err != nil {
		s.t.Fatal(err)
	}
	os.Chmod(filepath.Dir(d), 0o755)
	if err := os.Chown(d, 10001, 10001); err != nil {
		s.t.Fatal(err)
	}
	return d
}

// pod turns a workload's pod template into a Pod named name (see stack).
func (s *stack) pod(w object, name string) object {
	s.t.Helper()
	tmpl, _ := asMap(get(w, "spec", "template"))
	spec, _ := asMap(tmpl["spec"])
	var vols []any
	for _, v := range list(spec, "volumes") {
		vm, _ := asMap(v)
		vname := str(vm, "name")
		switch {
		case get(vm, "secret") != nil:
			d := s.hostDir(name, vname, 0o700)
			data := s.secrets[str(vm, "secret", "secretName")]
			for _, it := range list(vm, "secret", "items") {
				f := filepath.Join(d, str(it, "path"))
				if err := os.WriteFile(f, []byte(data[str(it, "key")]), 0o400); err != nil {
					s.t.Fatal(err)
				}
				os.Chown(f, 10001, 10001)
			}
			vols = append(vols, object{"name": vname, "hostPath": object{"path": d, "type": "Directory"}})
		case get(vm, "emptyDir") != nil:
			vols = append(vols, object{"name": vname, "hostPath": object{"path": s.hostDir(name, vname, 0o700), "type": "Directory"}})
		default:
			vols = append(vols, vm)
		}
	}
	for _, c := range list(w, "spec", "volumeClaimTemplates") {
		vname := str(c, "metadata", "name")
		vols = append(vols, object{"name": vname, "hostPath": object{"path": s.hostDir(name, vname, 0o700), "type": "Directory"}})
	}
	spec["volumes"] = vols
	for _, c := range list(spec, "containers") {
		if cm, ok := asMap(c); ok {
			delete(cm, "ports") // podman maps them, which the host's network refuses; informational there anyway
		}
	}
	return object{"apiVersion": "v1", "kind": "Pod", "metadata": object{"name": name, "labels": get(tmpl, "metadata", "labels")}, "spec": spec}
}

// play starts a Pod with podman kube play.
func (s *stack) play(p object) {
	s.t.Helper()
	b, err := yaml.Marshal(map[string]any(p))
	if err != nil {
		s.t.Fatal(err)
	}
	// From a folder of its own: kube play builds an image from a folder
	// named like one.
	dir := filepath.Join(s.dir, "manifests")
	os.MkdirAll(dir, 0o755)
	f := filepath.Join(dir, p.name()+".yaml")
	if err := os.WriteFile(f, b, 0o644); err != nil {
		s.t.Fatal(err)
	}
	tryRun(nil, s.pm, "pod", "rm", "-f", p.name())
	s.pods = append(s.pods, p.name())
	run(s.t, nil, s.pm, "kube", "play", f)
}

func (s *stack) down() {
	for _, p := range s.pods {
		if s.t.Failed() {
			names, _ := tryRun(nil, s.pm, "ps", "-a", "--filter", "pod="+p, "--format", "{{.Names}}")
			for _, c := range strings.Fields(names) {
				if out, err := exec.Command(s.pm, "logs", "--tail", "30", c).CombinedOutput(); err == nil && len(out) > 0 {
					s.t.Logf("%s, its last lines:\n%s", c, out)
				}
			}
		}
		tryRun(nil, s.pm, "pod", "rm", "-f", "-t", "5", p)
	}
	for name := range s.secrets {
		tryRun(nil, s.pm, "secret", "rm", name)
	}
}

// waitTCP waits until something listens on port.
func waitTCP(t testing.TB, port int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on port %d after %v", port, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// iscctl runs the command line against the replicas as the operator.
func (s *stack) iscctl(args ...string) string {
	s.t.Helper()
	return s.iscctlAt(s.replicas[0], args...)
}

// iscctlAt runs it against one replica (a few admin calls, such as the
// workers connected, answer for the replica that handles them).
func (s *stack) iscctlAt(r *replica, args ...string) string {
	s.t.Helper()
	cmd := exec.Command(filepath.Join(buildDir(s.t), "bin", "iscctl"), args...)
	cmd.Env = append(os.Environ(), "ISCD_ADMIN_URL="+r.url(), "ISCD_ADMIN_TOKEN="+s.adminToken)
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.t.Fatalf("iscctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func jsonField(t testing.TB, doc, field string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatalf("%v: %s", err, doc)
	}
	v, _ := m[field].(string)
	return v
}

// TestKubePlay: the trial's manifests as pods — PostgreSQL, versitygw,
// three iscd replicas and two workers — set up as docs/deploy.md's
// "From an empty cluster to a working iscd" says; the C examples' flow
// and a CalculiX solve pass through them; then the replicas restart one
// at a time while a C program is connected and another saves, and no
// event and no save is lost.
func TestKubePlay(t *testing.T) {
	_, tag := built(t)
	for _, n := range []string{"iscd", "iscd-worker", "iscd-postgresql", "iscd-versitygw"} {
		image(t, n, tag)
	}
	bin := filepath.Join(buildDir(t), "bin")
	for _, p := range []string{"console_c", "cloud_files", "cloud_solve", "iscctl"} {
		if _, err := os.Stat(filepath.Join(bin, p)); err != nil {
			t.Fatalf("%s is missing (make examples bin)", p)
		}
	}
	start := time.Now()
	s := newStack(t, tag)
	s.pgPort, s.s3Port = freePort(t), freePort(t)

	// The operator's Secrets (docs/deploy.md, step 2).
	kek := filepath.Join(s.dir, "iscd.kek")
	run(t, nil, filepath.Join(bin, "iscd"), "kek", "generate", "--out", kek)
	kekText, _ := os.ReadFile(kek)
	s.secret("iscd-kek", map[string]string{"kek": strings.TrimSpace(string(kekText))})
	s.secret("iscd-db", map[string]string{"password": "pw-" + strconv.FormatInt(time.Now().UnixNano(), 36)})
	s.secret("iscd-object-store", map[string]string{"access-key-id": "iscdtest", "secret-access-key": "s3-" + strconv.FormatInt(time.Now().UnixNano(), 36)})

	// The trial's stores.
	objs := objects(t, helmTemplate(t, "sizes/trial.yaml", s.set()...))
	s.play(s.pod(find(t, objs, "StatefulSet", "iscd-postgresql"), "iscd-postgresql"))
	s.play(s.pod(find(t, objs, "StatefulSet", "iscd-versitygw"), "iscd-versitygw"))
	waitTCP(t, s.pgPort, 60*time.Second)
	waitTCP(t, s.s3Port, 60*time.Second)

	// Three replicas, each rendered with ports of its own; the first
	// migrates the fresh database.
	for _, name := range []string{"iscd-a", "iscd-b", "iscd-c"} {
		r := &replica{pod: name, port: freePort(t), metricsPort: freePort(t)}
		objs := objects(t, helmTemplate(t, "sizes/trial.yaml", s.set("iscd.replicas=3",
			"iscd.port="+strconv.Itoa(r.port), "iscd.metricsPort="+strconv.Itoa(r.metricsPort))...))
		s.play(s.pod(find(t, objs, "Deployment", "iscd"), name))
		s.replicas = append(s.replicas, r)
		waitHTTP(t, r.url()+"/readyz", 90*time.Second)
	}
	// The operator's first admin token, as docs/deploy.md has it made
	// (kubectl exec deploy/iscd -- iscd admin-token ...).
	s.adminToken = strings.TrimSpace(run(t, nil, s.pm, "exec", "iscd-a-iscd", "iscd", "admin-token", "--name", "operator",
		"--db-password-file", "/run/secrets/iscd/db/password"))
	if !strings.HasPrefix(s.adminToken, "isa_") {
		t.Fatalf("iscd admin-token printed %q", s.adminToken)
	}
	t.Logf("stores and three replicas ready in %v", time.Since(start).Round(time.Millisecond))

	// An organisation, its engineer, the product, a licence, the
	// engineer's API token, the solver and the workers' token (step 4).
	s.iscctl("org", "create", "--id", "acme", "--name", "Acme Engineering")
	s.iscctl("user", "create", "--org", "acme", "--id", "eng", "--name", "Engineer")
	s.iscctl("product", "create", "--id", "demo-cad", "--name", "Demo CAD", "--require-license", "compute,files")
	s.iscctl("license", "create", "--org", "acme", "--product", "demo-cad", "--id", "acme-floating", "--seats", "5", "--expires", "+8760h")
	s.iscctl("solver", "set", "--product", "demo-cad", "--name", "calculix", "--progress", "calculix", "--outputs", "*.dat,*.frd,*.sta,*.cvg")
	apiToken := jsonField(t, s.iscctl("--json", "token", "create", "--user", "eng", "--name", "test"), "token")
	workerToken := jsonField(t, s.iscctl("--json", "worker", "token", "--name", "pool"), "token")
	pub := strings.Join(strings.Fields(s.iscctl("key", "export-public", "--product", "demo-cad")), ",")
	s.secret("iscd-worker-token", map[string]string{"token": workerToken})

	// Two workers, each dialling a replica (in a cluster: the Service).
	for i, name := range []string{"iscd-worker-1", "iscd-worker-2"} {
		// podman 4.3 ignores procMount (podman 4.7 takes it), and the
		// containers here may open 1,024 files (containers.conf)
		objs := objects(t, helmTemplate(t, "sizes/trial.yaml", s.set("workers.server="+s.replicas[i].url(),
			"workers.metricsPort="+strconv.Itoa(freePort(t)), "workers.sandbox.privileged=true",
			"workers.extraArgs={--solver-open-files=1024}")...))
		s.play(s.pod(find(t, objs, "Deployment", "iscd-worker"), name))
	}
	for _, r := range s.replicas[:2] {
		deadline := time.Now().Add(60 * time.Second)
		for !strings.Contains(s.iscctlAt(r, "workers", "list"), "calculix") {
			if time.Now().After(deadline) {
				t.Fatalf("no worker connected to %s", r.pod)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	t.Logf("the whole stack up in %v", time.Since(start).Round(time.Millisecond))

	// The programs reach the replicas through one address, as through a
	// Service: a balancer that skips a replica that refuses.
	s.lbAddr = startBalancer(t, s.replicas)
	s.env = append(os.Environ(),
		"ISCSDK_ENDPOINT=ws://"+s.lbAddr+"/v1/session", "ISCSDK_TOKEN="+apiToken, "ISCSDK_PRODUCT=demo-cad",
		"ISCSDK_LICENSE_PUBLIC_KEY="+pub)

	t.Run("MigrationJob", func(t *testing.T) { s.migrationJob(t) })
	t.Run("CExamples", func(t *testing.T) { s.cExamples(t) })
	t.Run("RollingRestart", func(t *testing.T) { s.rollingRestart(t) })
}

// program runs a C example with the programs' environment and a
// workspace of its own.
func (s *stack) program(t *testing.T, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(buildDir(t), "bin", name), args...)
	cmd.Dir = root
	cmd.Env = append(append([]string{}, s.env...), "ISCSDK_WORKSPACE="+t.TempDir())
	return cmd
}

// cExamples: make demo's flow through the deployment — a licence asked
// for and checked offline, files saved, changed, saved and opened, and
// beam.inp solved by CalculiX on a worker pod, in its sandbox.
func (s *stack) cExamples(t *testing.T) {
	out, err := s.program(t, "console_c", "--seconds", "3").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "licence check: ") || !strings.Contains(string(out), `"valid":true`) {
		t.Fatalf("console_c: %v\n%s", err, out)
	}
	out, err = s.program(t, "cloud_files", "examples/data/beam.inp", "examples/data/Bracket").CombinedOutput()
	if err := cloudFilesFailed(out, err); err != nil {
		t.Fatalf("cloud_files: %v\n%s", err, out)
	}
	began := time.Now()
	out, err = s.program(t, "cloud_solve", "examples/data/beam.inp").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "result: success") {
		t.Fatalf("cloud_solve: %v\n%s", err, out)
	}
	dir := ""
	for _, l := range strings.Split(string(out), "\n") {
		if d, ok := strings.CutPrefix(l, "results in: "); ok {
			dir = d
		}
	}
	if dat, err := os.ReadFile(filepath.Join(dir, "beam.dat")); err != nil || !strings.Contains(string(dat), "displacements") {
		t.Fatalf("no displacements in the solve's beam.dat (%s): %v", dir, err)
	}
	t.Logf("beam.inp solved on a worker pod in %v", time.Since(began).Round(time.Millisecond))
}

// migrationJob: the pre-upgrade hook's Job, run as Helm would before an
// upgrade, migrates the database the replicas serve from (up to date
// here: the first replica migrated it) and ends with success.
func (s *stack) migrationJob(t *testing.T) {
	objs := objects(t, helmTemplate(t, "sizes/trial.yaml", s.set()...))
	job := find(t, objs, "Job", "iscd-migrate")
	s.play(s.pod(job, "iscd-migrate"))
	code := strings.TrimSpace(run(t, nil, s.pm, "wait", "iscd-migrate-migrate"))
	out, _ := exec.Command(s.pm, "logs", "iscd-migrate-migrate").CombinedOutput()
	logs := string(out)
	if code != "0" || !strings.Contains(logs, "up to date") {
		t.Fatalf("the migration Job ended with %s:\n%s", code, logs)
	}
	t.Logf("the migration Job: %s", strings.TrimSpace(logs))
}

// cloudFilesFailed says why a cloud_files run failed: its exit, or one of
// its five steps (three saves, two opens) not answered with success (the
// example reports a failed step and goes on).
func cloudFilesFailed(out []byte, err error) error {
	if err != nil {
		return err
	}
	ok := 0
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, " failed: ") {
			return fmt.Errorf("a step failed: %s", l)
		}
		if strings.Contains(l, " version ") {
			ok++
		}
	}
	if ok != 5 {
		return fmt.Errorf("%d of its 5 steps succeeded", ok)
	}
	return nil
}

// sessionIDs are the ids of the sessions iscd holds for the product.
func (s *stack) sessionIDs() map[string]bool {
	var list []map[string]any
	if err := json.Unmarshal([]byte(s.iscctl("--json", "session", "list", "--product", "demo-cad")), &list); err != nil {
		s.t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, x := range list {
		if id, _ := x["id"].(string); id != "" {
			ids[id] = true
		}
	}
	return ids
}

// rollingRestart: each replica in turn is replaced as Kubernetes replaces
// a pod (SIGTERM, up to the grace period, then a new pod), the next only
// once the new one is ready. Meanwhile a connected C program (console_c) is sent a
// numbered notice every 200 ms, and another (cloud_files) saves and opens
// over and over. Every notice iscd acknowledged arrives once, in order,
// and every save and open is answered with success.
func (s *stack) rollingRestart(t *testing.T) {
	before := s.sessionIDs()
	console := s.program(t, "console_c")
	stdout, err := console.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	console.Stderr = console.Stdout
	if err := console.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		lines []string
		seen  = make(chan string, 1024) // notice titles, as they arrive
	)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			l := sc.Text()
			mu.Lock()
			lines = append(lines, l)
			mu.Unlock()
			if i := strings.Index(l, `"title":"notice-`); i >= 0 && strings.Contains(l, " Notice ") {
				seen <- l[i+len(`"title":"`) : i+len(`"title":"notice-0000`)]
			}
		}
	}()
	defer func() {
		console.Process.Signal(syscall.SIGINT)
		<-readDone
		if err := console.Wait(); err != nil {
			t.Errorf("console_c: %v", err)
		}
		if t.Failed() {
			mu.Lock()
			t.Logf("console_c printed:\n%s", strings.Join(lines, "\n"))
			mu.Unlock()
		}
	}()
	var session string
	for deadline := time.Now().Add(30 * time.Second); session == ""; time.Sleep(100 * time.Millisecond) {
		for id := range s.sessionIDs() {
			if !before[id] {
				session = id
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("console_c's session did not appear")
		}
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var acked []string // notices iscd answered for, in order
	var sendFailures atomic.Int32
	wg.Add(2)
	go func() { // the notices
		defer wg.Done()
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			title := fmt.Sprintf("notice-%04d", i)
			cmd := exec.Command(filepath.Join(buildDir(t), "bin", "iscctl"), "notice", "send", "--session", session, "--title", title, "--text", "rolling restart")
			cmd.Env = append(os.Environ(), "ISCD_ADMIN_URL=http://"+s.lbAddr, "ISCD_ADMIN_TOKEN="+s.adminToken)
			if err := cmd.Run(); err != nil {
				sendFailures.Add(1) // a replica stopping under the call: not acknowledged
				continue
			}
			mu.Lock()
			acked = append(acked, title)
			mu.Unlock()
		}
	}()
	var saves, failedSaves atomic.Int32
	go func() { // the saves
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			out, err := s.program(t, "cloud_files", "examples/data/beam.inp", "examples/data/Bracket").CombinedOutput()
			saves.Add(1)
			if err := cloudFilesFailed(out, err); err != nil {
				failedSaves.Add(1)
				t.Errorf("cloud_files during the restarts: %v\n%s", err, out)
			}
		}
	}()

	// arrived waits until console_c has had n notices since the last call.
	var arrivedSoFar []string
	arrived := func(n int) {
		deadline := time.After(60 * time.Second)
		for range n {
			select {
			case title := <-seen:
				arrivedSoFar = append(arrivedSoFar, title)
			case <-deadline:
				t.Fatalf("console_c had no notice for 60 s (%d so far)", len(arrivedSoFar))
			}
		}
	}
	began := time.Now()
	for _, r := range s.replicas {
		arrived(5) // the session lives, wherever it is now
		// As Kubernetes replaces a pod: SIGTERM, up to the grace period,
		// then a new pod from the same manifest.
		t0 := time.Now()
		run(t, nil, s.pm, "pod", "stop", "-t", "30", r.pod)
		stopped := time.Since(t0)
		run(t, nil, s.pm, "pod", "rm", r.pod)
		run(t, nil, s.pm, "kube", "play", filepath.Join(s.dir, "manifests", r.pod+".yaml"))
		waitHTTP(t, r.url()+"/readyz", 90*time.Second)
		t.Logf("%s: stopped in %v, ready again %v later", r.pod, stopped.Round(time.Millisecond), (time.Since(t0) - stopped).Round(time.Millisecond))
	}
	arrived(5)
	restarts := time.Since(began)
	close(stop)
	wg.Wait()

	mu.Lock()
	want := append([]string{}, acked...)
	mu.Unlock()
	if len(want) < 10 {
		t.Fatalf("only %d notices acknowledged during the restarts", len(want))
	}
	got := map[string]int{}
	var order []string
	for _, title := range arrivedSoFar {
		got[title]++
		order = append(order, title)
	}
	deadline := time.After(60 * time.Second)
	for _, w := range want {
		for got[w] == 0 {
			select {
			case title := <-seen:
				got[title]++
				order = append(order, title)
			case <-deadline:
				t.Fatalf("notice %s never arrived (%d of %d acknowledged arrived)", w, len(got), len(want))
			}
		}
	}
	for i := 1; i < len(order); i++ {
		if order[i] <= order[i-1] {
			t.Errorf("notices out of order or twice: %s after %s", order[i], order[i-1])
		}
	}
	mu.Lock()
	reconnects := 0
	for _, l := range lines {
		if strings.Contains(l, " ServiceClosed ") {
			reconnects++
		}
	}
	mu.Unlock()
	if reconnects == 0 {
		t.Errorf("console_c was never moved: no ServiceClosed in its events")
	}
	t.Logf("three replicas restarted in %v: %d notices acknowledged and all arrived once, in order (%d sends refused while a replica stopped); console_c told of %d closings; %d cloud_files runs (save, change, save, open), %d failed",
		restarts.Round(time.Millisecond), len(want), sendFailures.Load(), reconnects, saves.Load(), failedSaves.Load())
}

// startBalancer passes TCP connections to the replicas in turn, skipping
// one that refuses: what a Service does with iscd's pods.
func startBalancer(t *testing.T, rs []*replica) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		next  atomic.Uint32
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
		wg    sync.WaitGroup
	)
	track := func(c net.Conn, on bool) {
		mu.Lock()
		defer mu.Unlock()
		if on {
			conns[c] = true
		} else {
			delete(conns, c)
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				track(c, true)
				defer func() { track(c, false); c.Close() }()
				var (
					b   net.Conn
					err error
				)
				for range rs {
					r := rs[int(next.Add(1))%len(rs)]
					if b, err = net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(r.port), 2*time.Second); err == nil {
						break
					}
				}
				if b == nil {
					return
				}
				track(b, true)
				defer func() { track(b, false); b.Close() }()
				done := make(chan struct{})
				go func() {
					io.Copy(b, c)
					b.(*net.TCPConn).CloseWrite()
					close(done)
				}()
				io.Copy(c, b)
				c.(*net.TCPConn).CloseWrite()
				<-done
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}
