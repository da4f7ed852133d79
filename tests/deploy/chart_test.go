package deploy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// k8sVersion is the Kubernetes version whose schemas make deploy-tools
// made (its K8S_VERSION).
func k8sVersion() string {
	if v := os.Getenv("ISCD_K8S_VERSION"); v != "" {
		return v
	}
	return "1.34.4"
}

// kubeconform validates manifests against the strict schemas of
// k8sVersion and returns its summary.
func kubeconform(t *testing.T, manifests string) (summary struct{ Valid, Invalid, Errors, Skipped int }, out string, err error) {
	t.Helper()
	kc := tool(t, "kubeconform")
	schemas := filepath.Join(buildDir(t), "k8s-schemas")
	if _, err := os.Stat(filepath.Join(schemas, "v"+k8sVersion()+"-standalone-strict", "deployment-apps-v1.json")); err != nil {
		skip(t, "no Kubernetes schemas in %s (make deploy-tools)", schemas)
	}
	f := filepath.Join(t.TempDir(), "manifests.yaml")
	if err := os.WriteFile(f, []byte(manifests), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = tryRun(nil, kc, "-strict", "-summary", "-output", "json", "-kubernetes-version", k8sVersion(),
		"-schema-location", schemas+"/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json", f)
	var doc struct {
		Summary struct{ Valid, Invalid, Errors, Skipped int }
	}
	if jerr := json.Unmarshal([]byte(out), &doc); jerr != nil {
		t.Fatalf("kubeconform's output: %v\n%s\n%v", jerr, out, err)
	}
	return doc.Summary, out, err
}

// TestChartLintAndSchemas: for each values file, helm lint passes and
// every manifest helm template renders is valid against the Kubernetes
// API's schemas, strictly (no field the API does not know), none skipped.
func TestChartLintAndSchemas(t *testing.T) {
	helm := tool(t, "helm")
	for _, values := range valueFiles {
		name := values
		if name == "" {
			name = "values.yaml"
		}
		t.Run(filepath.Base(name), func(t *testing.T) {
			args := []string{"lint", "--strict", chart}
			if values != "" {
				args = append(args, "-f", filepath.Join(chart, values))
			}
			run(t, nil, helm, args...)
			manifests := helmTemplate(t, values)
			sum, out, err := kubeconform(t, manifests)
			n := len(objects(t, manifests))
			if err != nil || sum.Valid != n || sum.Invalid+sum.Errors+sum.Skipped != 0 {
				t.Fatalf("kubeconform: %d manifests rendered, summary %+v: %v\n%s", n, sum, err, out)
			}
			t.Logf("%s: %d manifests valid against Kubernetes %s's schemas", name, n, k8sVersion())
		})
	}
}

// TestSchemasRefuseAMisspeltField: the validation above can fail — a
// field the API does not have, deep in a pod template, is refused.
func TestSchemasRefuseAMisspeltField(t *testing.T) {
	manifests := helmTemplate(t, "sizes/trial.yaml")
	bad := strings.Replace(manifests, "readOnlyRootFilesystem: true", "readOnlyRootFilesytem: true", 1)
	if bad == manifests {
		t.Fatal("no readOnlyRootFilesystem in the rendered manifests")
	}
	sum, out, err := kubeconform(t, bad)
	if err == nil || sum.Invalid != 1 || !strings.Contains(out, "readOnlyRootFilesytem") {
		t.Fatalf("kubeconform took a misspelt field: %+v %v\n%s", sum, err, out)
	}
}

// podSpecs are the pod templates of the workloads, by workload name.
func podSpecs(objs []object) map[string]object {
	specs := map[string]object{}
	for _, o := range objs {
		switch o.kind() {
		case "Deployment", "StatefulSet", "Job":
			if s, ok := asMap(get(o, "spec", "template", "spec")); ok {
				specs[o.name()] = s
			}
		}
	}
	return specs
}

// TestChartPodsAreLockedDown: every pod of every size runs as a non-root
// user with a read-only root, no privilege escalation, no capabilities,
// no service account token, requests and a memory limit; the chart writes
// no Secret and no secret value, only references to the operator's.
func TestChartPodsAreLockedDown(t *testing.T) {
	for _, values := range valueFiles {
		objs := objects(t, helmTemplate(t, values))
		for _, o := range objs {
			if o.kind() == "Secret" {
				t.Errorf("%s: the chart renders Secret %s: secrets are the operator's, referenced only", values, o.name())
			}
		}
		specs := podSpecs(objs)
		if len(specs) < 3 {
			t.Fatalf("%s: %d workloads rendered", values, len(specs))
		}
		for name, spec := range specs {
			if get(spec, "automountServiceAccountToken") != false {
				t.Errorf("%s %s: the service account token is mounted", values, name)
			}
			if get(spec, "securityContext", "runAsNonRoot") != true {
				t.Errorf("%s %s: the pod may run as root", values, name)
			}
			for _, c := range list(spec, "containers") {
				cname := name + "/" + str(c, "name")
				sc := get(c, "securityContext")
				for _, want := range []struct {
					field string
					value any
				}{{"readOnlyRootFilesystem", true}, {"runAsNonRoot", true}, {"allowPrivilegeEscalation", false}} {
					if get(sc, want.field) != want.value {
						t.Errorf("%s %s: securityContext.%s is %v", values, cname, want.field, get(sc, want.field))
					}
				}
				if !slices.Contains(list(sc, "capabilities", "drop"), any("ALL")) {
					t.Errorf("%s %s: capabilities not all dropped", values, cname)
				}
				for _, r := range [][]any{{"requests", "cpu"}, {"requests", "memory"}, {"limits", "memory"}} {
					if get(c, append([]any{"resources"}, r...)...) == nil {
						t.Errorf("%s %s: no resources.%s.%s", values, cname, r[0], r[1])
					}
				}
				for _, e := range list(c, "env") {
					n := str(e, "name")
					secret := strings.Contains(n, "KEK") || strings.Contains(n, "SECRET") || strings.Contains(n, "PASSWORD") ||
						strings.Contains(n, "TOKEN") || strings.Contains(n, "ACCESS_KEY")
					secret = secret && !strings.HasSuffix(n, "_FILE") // a path to a mounted Secret
					if secret && (get(e, "value") != nil || get(e, "valueFrom", "secretKeyRef", "name") == nil) {
						t.Errorf("%s %s: %s is not read from a Secret", values, cname, n)
					}
				}
			}
			for _, v := range list(spec, "volumes") {
				if s := get(v, "secret"); s != nil && get(s, "defaultMode") != 0o400 {
					t.Errorf("%s %s: secret volume %s has mode %v, not 0400", values, name, str(v, "name"), get(s, "defaultMode"))
				}
			}
		}
	}
}

// TestChartServesAsTheDocsSay: the server's probes, its drain, its
// disruption budget and scraping; the migration before an upgrade; the
// workers' sandbox needs; the network policy.
func TestChartServesAsTheDocsSay(t *testing.T) {
	objs := objects(t, helmTemplate(t, ""))
	d := find(t, objs, "Deployment", "iscd")
	pod := get(d, "spec", "template", "spec")
	c := get(pod, "containers", 0)
	if p := str(c, "readinessProbe", "httpGet", "path"); p != "/readyz" {
		t.Errorf("readiness probe on %q, want /readyz", p)
	}
	if p := str(c, "livenessProbe", "httpGet", "path"); p != "/healthz" {
		t.Errorf("liveness probe on %q, want /healthz", p)
	}
	// iscd drains its sessions for up to 15 s after SIGTERM, which comes
	// after preStop: the grace period must cover both.
	grace, _ := get(pod, "terminationGracePeriodSeconds").(int)
	preStop, _ := get(c, "lifecycle", "preStop", "sleep", "seconds").(int)
	if grace < preStop+15+5 {
		t.Errorf("terminationGracePeriodSeconds %d does not cover preStop %d s + the 15 s drain", grace, preStop)
	}
	ann := get(d, "spec", "template", "metadata", "annotations")
	if str(ann, "prometheus.io/scrape") != "true" || str(ann, "prometheus.io/port") != "9400" ||
		!slices.Contains(list(c, "args"), any("--metrics-listen=0.0.0.0:9400")) {
		t.Errorf("metrics not annotated for scraping where iscd serves them: %v %v", ann, list(c, "args"))
	}
	pdb := find(t, objs, "PodDisruptionBudget", "iscd")
	if get(pdb, "spec", "maxUnavailable") != 1 || !equalYAML(get(pdb, "spec", "selector"), get(d, "spec", "selector")) {
		t.Errorf("the disruption budget does not keep all but one replica: %v", get(pdb, "spec"))
	}
	job := find(t, objs, "Job", "iscd-migrate")
	if hook := str(job, "metadata", "annotations", "helm.sh/hook"); hook != "pre-upgrade" {
		t.Errorf("the migration Job's hook is %q", hook)
	}
	if args := list(job, "spec", "template", "spec", "containers", 0, "args"); len(args) == 0 || args[0] != "migrate" {
		t.Errorf("the migration Job runs %v", args)
	}
	w := get(find(t, objs, "Deployment", "iscd-worker"), "spec", "template", "spec")
	if get(w, "hostUsers") != false || str(w, "containers", 0, "securityContext", "procMount") != "Unmasked" {
		t.Errorf("the worker's sandbox needs a user namespace and an unmasked /proc: %v", w)
	}
	if !slices.Contains(list(w, "containers", 0, "args"), any("--server=http://iscd:7400")) {
		t.Errorf("the workers do not dial the iscd Service: %v", list(w, "containers", 0, "args"))
	}
	np := find(t, objs, "NetworkPolicy", "iscd")
	if !equalYAML(get(np, "spec", "podSelector", "matchLabels"), get(d, "spec", "selector", "matchLabels")) {
		t.Errorf("the network policy does not select iscd's pods: %v", get(np, "spec"))
	}
}

// TestChartIngress: off by default; on, it serves over TLS only what
// programs and browsers need (sessions, sign-in, pickers; the
// marketplace, the admin API and the console only when asked), never the
// workers' endpoint, and iscd is told its public address. Its manifests
// pass the Kubernetes schemas; no host is an error.
func TestChartIngress(t *testing.T) {
	for _, o := range objects(t, helmTemplate(t, "")) {
		if o.kind() == "Ingress" {
			t.Fatalf("an Ingress by default: %v", o)
		}
	}
	on := []string{"ingress.enabled=true", "ingress.host=iscd.acme.example", "ingress.tlsSecret=acme-tls", "ingress.className=nginx"}
	check := func(set []string, want []string, console bool) {
		t.Helper()
		manifests := helmTemplate(t, "", set...)
		if sum, out, err := kubeconform(t, manifests); err != nil || sum.Invalid+sum.Errors+sum.Skipped != 0 {
			t.Fatalf("kubeconform %v: %+v %v\n%s", set, sum, err, out)
		}
		objs := objects(t, manifests)
		ing := find(t, objs, "Ingress", "iscd")
		if str(ing, "spec", "tls", 0, "secretName") != "acme-tls" || str(ing, "spec", "tls", 0, "hosts", 0) != "iscd.acme.example" ||
			str(ing, "spec", "rules", 0, "host") != "iscd.acme.example" || str(ing, "spec", "ingressClassName") != "nginx" {
			t.Errorf("the Ingress's TLS, host or class: %v", get(ing, "spec"))
		}
		var paths []string
		for _, p := range list(ing, "spec", "rules", 0, "http", "paths") {
			if str(p, "backend", "service", "name") != "iscd" || str(p, "backend", "service", "port", "name") != "iscd" {
				t.Errorf("path %s does not go to the iscd Service's port: %v", str(p, "path"), p)
			}
			paths = append(paths, str(p, "path"))
		}
		if !slices.Equal(paths, want) {
			t.Errorf("the Ingress serves %v, want %v", paths, want)
		}
		args := list(find(t, objs, "Deployment", "iscd"), "spec", "template", "spec", "containers", 0, "args")
		if !slices.Contains(args, any("--public-url=https://iscd.acme.example")) || slices.Contains(args, any("--console-secure-cookies")) != console {
			t.Errorf("iscd's arguments with the Ingress: %v", args)
		}
	}
	public := []string{"/v1/session", "/oauth/", "/device", "/signin", "/picker/"}
	check(on, public, false)
	check(append(on, "ingress.console=true", "ingress.adminAPI=true", "marketplace.enabled=true"),
		append(public, "/marketplace/v1/", "/admin/v1/", "/console/"), true)
	if out, err := tryRun(nil, tool(t, "helm"), "template", "iscd", chart, "--set", "ingress.enabled=true"); err == nil || !strings.Contains(err.Error()+out, "ingress.host is required") {
		t.Errorf("an Ingress without a host: %v\n%s", err, out)
	}
}

// TestChartSizes: each size's replicas and workers, its stores (in the
// cluster for a trial, external otherwise), and an external store that is
// not named is an error, not a default.
func TestChartSizes(t *testing.T) {
	for _, sz := range []struct {
		values           string
		replicas, worker int
		trialStores      bool
	}{{"sizes/trial.yaml", 1, 1, true}, {"sizes/team.yaml", 2, 2, false}, {"sizes/company.yaml", 3, 8, false}} {
		objs := objects(t, helmTemplate(t, sz.values))
		if r := get(find(t, objs, "Deployment", "iscd"), "spec", "replicas"); r != sz.replicas {
			t.Errorf("%s: %v iscd replicas, want %d", sz.values, r, sz.replicas)
		}
		if r := get(find(t, objs, "Deployment", "iscd-worker"), "spec", "replicas"); r != sz.worker {
			t.Errorf("%s: %v workers, want %d", sz.values, r, sz.worker)
		}
		stores := 0
		for _, o := range objs {
			if o.kind() == "StatefulSet" {
				stores++
			}
		}
		if (stores == 2) != sz.trialStores {
			t.Errorf("%s: %d stores in the cluster", sz.values, stores)
		}
		env := list(find(t, objs, "Deployment", "iscd"), "spec", "template", "spec", "containers", 0, "env")
		if sz.trialStores && !strings.Contains(str(env, 0, "value"), "@iscd-postgresql:5432/iscd") {
			t.Errorf("%s: iscd's database is %v, not the trial's", sz.values, get(env, 0))
		}
	}
	// The database's URL may come from a Secret, for serve and the migration.
	objs := objects(t, helmTemplate(t, "sizes/company.yaml", "database.urlSecret.name=iscd-db-url"))
	for _, w := range []object{find(t, objs, "Deployment", "iscd"), find(t, objs, "Job", "iscd-migrate")} {
		e := get(w, "spec", "template", "spec", "containers", 0, "env", 0)
		if str(e, "name") != "ISCD_DB" || get(e, "value") != nil || str(e, "valueFrom", "secretKeyRef", "name") != "iscd-db-url" {
			t.Errorf("%s: ISCD_DB is %v, not the Secret's", w.name(), e)
		}
	}
	if _, err := tryRun(nil, tool(t, "helm"), "template", "iscd", chart, "-f", filepath.Join(chart, "sizes/team.yaml"), "--set", "database.url="); err == nil ||
		!strings.Contains(err.Error(), "database.url is required") {
		t.Errorf("a chart without a database rendered: %v", err)
	}
}

func equalYAML(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return a != nil && string(ja) == string(jb)
}
