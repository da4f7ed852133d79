// Package deploy tests iscd's deployment as an operator meets it (make
// test-deploy): the Helm chart deploy/helm/iscd linted and rendered for
// each values file and validated against the Kubernetes API's schemas with
// kubeconform; the container images (make images) run with podman; and
// the rendered manifests run as pods with podman kube play — PostgreSQL,
// versitygw, three iscd replicas and two workers — with the C examples
// against them and the replicas restarted one at a time under a connected
// program. docs/deploy.md describes what is tested and how.
package deploy
