// Package k8scheck holds the test that validates deploy/k8s: every manifest
// decodes strictly into its typed Kubernetes object, and the manifests agree
// with each other, with the binaries' flags and with deploy/compose.yaml.
// Run it with `go test ./tools/k8scheck/`.
package k8scheck
