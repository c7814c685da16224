package k8scheck

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

const root = "../.."

// manifests holds every object of deploy/k8s, decoded strictly.
type manifests struct {
	services     map[string]*corev1.Service
	deployments  map[string]*appsv1.Deployment
	statefulSets map[string]*appsv1.StatefulSet
	pdbs         map[string]*policyv1.PodDisruptionBudget
}

// load decodes every YAML document of deploy/k8s/*.yaml into the typed
// object of its kind, rejecting unknown fields, unknown kinds and duplicates.
func load(t *testing.T) *manifests {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "deploy/k8s/*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/k8s: %v", err)
	}
	m := &manifests{services: map[string]*corev1.Service{}, deployments: map[string]*appsv1.Deployment{},
		statefulSets: map[string]*appsv1.StatefulSet{}, pdbs: map[string]*policyv1.PodDisruptionBudget{}}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			where := fmt.Sprintf("%s, document %d", filepath.Base(file), i+1)
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			var name string
			switch gvk := tm.APIVersion + " " + tm.Kind; gvk {
			case "v1 Service":
				name = decode(t, where, doc, m.services)
			case "apps/v1 Deployment":
				name = decode(t, where, doc, m.deployments)
			case "apps/v1 StatefulSet":
				name = decode(t, where, doc, m.statefulSets)
			case "policy/v1 PodDisruptionBudget":
				name = decode(t, where, doc, m.pdbs)
			default:
				t.Fatalf("%s: unexpected kind %q", where, gvk)
			}
			t.Logf("%s: %s %s", where, tm.Kind, name)
		}
	}
	return m
}

// decode strictly decodes doc into a new T, stored in into under its name.
func decode[T any, P interface {
	*T
	GetName() string
}](t *testing.T, where, doc string, into map[string]P) string {
	t.Helper()
	obj := P(new(T))
	if err := strictDecode(doc, obj); err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	name := obj.GetName()
	if name == "" {
		t.Fatalf("%s: no metadata.name", where)
	}
	if _, dup := into[name]; dup {
		t.Fatalf("%s: a second object named %q", where, name)
	}
	into[name] = obj
	return name
}

// strictDecode decodes YAML as the API server does, and stricter: field
// names are case-sensitive, unknown and duplicate fields are errors.
func strictDecode(doc string, obj any) error {
	data, err := yaml.YAMLToJSONStrict([]byte(doc))
	if err != nil {
		return err
	}
	strict, err := kjson.UnmarshalStrict(data, obj, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

func stripComments(doc string) string {
	return regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(doc, "")
}

func TestManifestsDecodeStrictly(t *testing.T) {
	m := load(t)
	for _, name := range []string{"logbook-nats", "logbook-storenode"} {
		if m.services[name] == nil {
			t.Errorf("no Service %s", name)
		}
	}
	if m.statefulSets["logbook-storenode"] == nil || m.deployments["logbook-gateway"] == nil || m.deployments["logbook-nats"] == nil {
		t.Fatalf("missing workloads: statefulsets %v, deployments %v", keys(m.statefulSets), keys(m.deployments))
	}
	// The decoding does reject what the API server would not take as meant
	// (the checks above are not vacuous).
	for _, bad := range []string{
		"apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {clusterIp: None}\n",
		"apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {selectors: {a: b}}\n",
		"apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {clusterIP: None, clusterIP: None}\n",
		"apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ports: [{port: seventy}]}\n",
	} {
		if err := strictDecode(bad, &corev1.Service{}); err == nil {
			t.Errorf("decoded without an error:\n%s", bad)
		}
	}
}

func TestStorenodeStatefulSet(t *testing.T) {
	m := load(t)
	sts := m.statefulSets["logbook-storenode"]
	if sts == nil {
		t.Fatal("no StatefulSet logbook-storenode")
	}
	checkSelector(t, "StatefulSet "+sts.Name, sts.Spec.Selector, sts.Spec.Template.Labels)
	if sts.Spec.Replicas == nil || *sts.Spec.Replicas != 3 {
		t.Errorf("replicas %v, want 3", sts.Spec.Replicas)
	}
	// In order, pod 0 would wait forever for the two others to form the cluster.
	if sts.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("podManagementPolicy %q, want Parallel", sts.Spec.PodManagementPolicy)
	}

	// The headless Service the StatefulSet names gives the Raft addresses.
	svc := m.services[sts.Spec.ServiceName]
	if svc == nil {
		t.Fatalf("serviceName %q: no such Service", sts.Spec.ServiceName)
	}
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("Service %s is not headless (clusterIP %q)", svc.Name, svc.Spec.ClusterIP)
	}
	if !svc.Spec.PublishNotReadyAddresses {
		t.Errorf("Service %s must publish not-ready addresses: peers need them to become ready", svc.Name)
	}
	checkServiceSelects(t, svc, sts.Spec.Template.Labels)

	c := container(t, sts.Spec.Template.Spec, "storenode")
	env := envMap(t, c)
	checkEnvKnown(t, "storenode", keys(env), storenodeSources...)
	if env["LOGBOOK_INITIAL_SIZE"] != strconv.Itoa(int(*sts.Spec.Replicas)) {
		t.Errorf("LOGBOOK_INITIAL_SIZE %q, want the replica count %d", env["LOGBOOK_INITIAL_SIZE"], *sts.Spec.Replicas)
	}
	if env["LOGBOOK_NODE_ID_FROM_ORDINAL"] != "1" {
		t.Errorf("LOGBOOK_NODE_ID_FROM_ORDINAL %q, want 1", env["LOGBOOK_NODE_ID_FROM_ORDINAL"])
	}
	if _, ok := env["LOGBOOK_NODE_ID"]; ok {
		t.Error("LOGBOOK_NODE_ID set: it excludes LOGBOOK_NODE_ID_FROM_ORDINAL")
	}

	// Raft: the advertised address is the pod's name under the headless
	// Service, on the port the transport listens on, the container and the
	// Service expose.
	raftPort := containerPort(t, c, "raft")
	wantAddr := fmt.Sprintf("$(POD_NAME).%s.$(POD_NAMESPACE).svc:%d", svc.Name, raftPort)
	if env["LOGBOOK_RAFT_ADDR"] != wantAddr {
		t.Errorf("LOGBOOK_RAFT_ADDR %q, want %q", env["LOGBOOK_RAFT_ADDR"], wantAddr)
	}
	if p := portOf(t, env["LOGBOOK_RAFT_LISTEN"]); p != raftPort {
		t.Errorf("LOGBOOK_RAFT_LISTEN port %d, container port raft %d", p, raftPort)
	}
	checkServicePort(t, svc, "raft", raftPort)
	for _, ref := range []string{"POD_NAME", "POD_NAMESPACE"} {
		if i, j := envIndex(c, ref), envIndex(c, "LOGBOOK_RAFT_ADDR"); i < 0 || i > j {
			t.Errorf("%s must be defined before LOGBOOK_RAFT_ADDR, which refers to it", ref)
		}
	}

	// Health: probes on the port of -http.
	httpPort := containerPort(t, c, "http")
	if p := portOf(t, env["LOGBOOK_HTTP"]); p != httpPort {
		t.Errorf("LOGBOOK_HTTP port %d, container port http %d", p, httpPort)
	}
	for name, probe := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe, "startup": c.StartupProbe} {
		want := map[string]string{"readiness": "/readyz", "liveness": "/healthz", "startup": "/healthz"}[name]
		if probe == nil || probe.HTTPGet == nil {
			t.Errorf("no HTTP %s probe", name)
			continue
		}
		if probe.HTTPGet.Path != want || probe.HTTPGet.Port.String() != "http" {
			t.Errorf("%s probe %s on %s, want %s on http", name, probe.HTTPGet.Path, probe.HTTPGet.Port.String(), want)
		}
	}

	// Data: the claim template is mounted where LOGBOOK_DATA points.
	if len(sts.Spec.VolumeClaimTemplates) != 1 {
		t.Fatalf("%d volume claim templates, want 1", len(sts.Spec.VolumeClaimTemplates))
	}
	claim := sts.Spec.VolumeClaimTemplates[0].Name
	if mountPath(c, claim) != env["LOGBOOK_DATA"] || env["LOGBOOK_DATA"] == "" {
		t.Errorf("claim %q mounted at %q, LOGBOOK_DATA is %q", claim, mountPath(c, claim), env["LOGBOOK_DATA"])
	}
	// The image runs as nobody, read-only: the volume must be writable by it
	// and /tmp must be a volume.
	if sc := sts.Spec.Template.Spec.SecurityContext; sc == nil || sc.FSGroup == nil || *sc.FSGroup != 65534 {
		t.Error("pod securityContext.fsGroup must be 65534 (the image's user) for the data volume to be writable")
	}
	if c.SecurityContext != nil && c.SecurityContext.ReadOnlyRootFilesystem != nil && *c.SecurityContext.ReadOnlyRootFilesystem && mountPath(c, "tmp") != "/tmp" {
		t.Error("read-only root filesystem without a /tmp volume")
	}

	checkNATSURL(t, m, "storenode", env["LOGBOOK_NATS_URL"])
	if pdb := m.pdbs[sts.Name]; pdb == nil {
		t.Error("no PodDisruptionBudget for the storenodes")
	} else {
		checkSelector(t, "PodDisruptionBudget "+pdb.Name, pdb.Spec.Selector, sts.Spec.Template.Labels)
		if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != int(*sts.Spec.Replicas-1)/2 {
			t.Errorf("PodDisruptionBudget maxUnavailable %v, want a minority (%d)", pdb.Spec.MaxUnavailable, (*sts.Spec.Replicas-1)/2)
		}
	}
}

func TestGatewayAndNATS(t *testing.T) {
	m := load(t)
	gw := m.deployments["logbook-gateway"]
	checkSelector(t, "Deployment "+gw.Name, gw.Spec.Selector, gw.Spec.Template.Labels)
	if gw.Spec.Replicas == nil || *gw.Spec.Replicas != 2 {
		t.Errorf("gateway replicas %v, want 2", gw.Spec.Replicas)
	}
	c := container(t, gw.Spec.Template.Spec, "gateway")
	env := envMap(t, c)
	checkEnvKnown(t, "gateway", keys(env), gatewaySources...)
	checkNATSURL(t, m, "gateway", env["LOGBOOK_NATS_URL"])

	nats := m.deployments["logbook-nats"]
	checkSelector(t, "Deployment "+nats.Name, nats.Spec.Selector, nats.Spec.Template.Labels)
	checkServiceSelects(t, m.services["logbook-nats"], nats.Spec.Template.Labels)
	nc := container(t, nats.Spec.Template.Spec, "nats")
	conf, err := os.ReadFile(filepath.Join(root, "deploy/docker/nats.conf"))
	if err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string]string{"client": "listen", "monitor": "http"} {
		p := containerPort(t, nc, name)
		if !regexp.MustCompile(`(?m)^` + key + `:\s*\S*:` + strconv.Itoa(p) + `\s*$`).Match(conf) {
			t.Errorf("nats.conf %s does not listen on the %s port %d", key, name, p)
		}
		checkServicePort(t, m.services["logbook-nats"], name, p)
	}
	if !bytes.Contains(conf, []byte("max_payload: 8MB")) {
		t.Error("nats.conf does not allow 8MB messages")
	}
}

// TestImagesMatchCompose: the manifests run the images deploy/compose.yaml
// runs, which deploy/build-images.sh builds.
func TestImagesMatchCompose(t *testing.T) {
	m := load(t)
	data, err := os.ReadFile(filepath.Join(root, "deploy/compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Image       string            `json:"image"`
			Environment map[string]string `json:"environment"`
		} `json:"services"`
	}
	if err := yaml.Unmarshal(data, &compose); err != nil {
		t.Fatal(err)
	}
	expand := regexp.MustCompile(`\$\{[A-Z_]+:-([^}]*)\}`)
	composeImages := map[string]bool{}
	for name, s := range compose.Services {
		img := expand.ReplaceAllString(s.Image, "$1")
		composeImages[img] = true
		switch {
		case strings.HasPrefix(name, "storenode-"):
			checkEnvKnown(t, "compose "+name, keys(s.Environment), storenodeSources...)
		case strings.HasPrefix(name, "gateway-"):
			checkEnvKnown(t, "compose "+name, keys(s.Environment), gatewaySources...)
		}
	}
	var k8sImages []string
	for _, d := range m.deployments {
		for _, c := range d.Spec.Template.Spec.Containers {
			k8sImages = append(k8sImages, c.Image)
		}
	}
	for _, s := range m.statefulSets {
		for _, c := range s.Spec.Template.Spec.Containers {
			k8sImages = append(k8sImages, c.Image)
		}
	}
	for _, img := range k8sImages {
		if !composeImages[img] {
			t.Errorf("image %s is not one of compose.yaml's %v", img, keys(composeImages))
		}
	}
	for _, want := range []string{"logbook/storenode:dev", "logbook/gateway:dev", "logbook/nats:dev"} {
		if !composeImages[want] || !slices.Contains(k8sImages, want) {
			t.Errorf("image %s missing (compose %v, k8s %v)", want, keys(composeImages), k8sImages)
		}
	}
}

// TestSecretsMounted: authentication and TLS are on, as in the Compose
// file. Every file variable of the storenodes and gateways (their NATS
// password and CA, the storenodes' Raft TLS files) is the Compose file's
// and lies under a read-only mount of a Secret; NATS mounts its Secret
// where deploy/docker/nats.conf includes its users and TLS from.
func TestSecretsMounted(t *testing.T) {
	m := load(t)
	compose := composeServices(t)
	fileVars := map[string][]string{
		"storenode": {"LOGBOOK_NATS_CA", "LOGBOOK_NATS_PASSWORD_FILE", "LOGBOOK_RAFT_TLS_CA", "LOGBOOK_RAFT_TLS_CERT", "LOGBOOK_RAFT_TLS_KEY"},
		"gateway":   {"LOGBOOK_NATS_CA", "LOGBOOK_NATS_PASSWORD_FILE"},
	}
	specs := map[string]corev1.PodSpec{
		"storenode": m.statefulSets["logbook-storenode"].Spec.Template.Spec,
		"gateway":   m.deployments["logbook-gateway"].Spec.Template.Spec,
	}
	for who, vars := range fileVars {
		spec := specs[who]
		c := container(t, spec, who)
		env := envMap(t, c)
		composeEnv := compose[who+"-1"].Environment
		if env["LOGBOOK_NATS_USER"] == "" || env["LOGBOOK_NATS_USER"] != composeEnv["LOGBOOK_NATS_USER"] {
			t.Errorf("%s: LOGBOOK_NATS_USER %q, Compose %q", who, env["LOGBOOK_NATS_USER"], composeEnv["LOGBOOK_NATS_USER"])
		}
		for _, v := range vars {
			path := env[v]
			if path == "" || path != composeEnv[v] {
				t.Errorf("%s: %s is %q here and %q in Compose", who, v, path, composeEnv[v])
				continue
			}
			if !secretMounted(spec, c, path) {
				t.Errorf("%s: %s %s is not under a read-only mount of a Secret", who, v, path)
			}
		}
	}
	nats := m.deployments["logbook-nats"].Spec.Template.Spec
	conf, err := os.ReadFile(filepath.Join(root, "deploy/docker/nats.conf"))
	if err != nil {
		t.Fatal(err)
	}
	inc := regexp.MustCompile(`(?m)^include\s+"([^"]+)"`).FindSubmatch(conf)
	if inc == nil {
		t.Fatal("deploy/docker/nats.conf includes no users and TLS")
	}
	// Includes are relative to the configuration file, /etc/nats/nats.conf.
	if p := filepath.Join("/etc/nats", string(inc[1])); !secretMounted(nats, container(t, nats, "nats"), p) {
		t.Errorf("NATS: %s is not under a read-only mount of a Secret", p)
	}
}

// secretMounted reports whether path lies under a read-only mount of c of
// a volume backed by a Secret.
func secretMounted(spec corev1.PodSpec, c *corev1.Container, path string) bool {
	for _, vm := range c.VolumeMounts {
		if !vm.ReadOnly || !strings.HasPrefix(path, strings.TrimSuffix(vm.MountPath, "/")+"/") {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name == vm.Name && v.Secret != nil && v.Secret.SecretName != "" {
				return true
			}
		}
	}
	return false
}

type composeService struct {
	Image       string            `json:"image"`
	Environment map[string]string `json:"environment"`
}

// composeServices decodes deploy/compose.yaml's services (anchors merged).
func composeServices(t *testing.T) map[string]composeService {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "deploy/compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]composeService `json:"services"`
	}
	if err := yaml.Unmarshal(data, &compose); err != nil {
		t.Fatal(err)
	}
	return compose.Services
}

// Sources declaring the binaries' LOGBOOK_* variables.
var (
	storenodeSources = []string{"services/storenode/*.go", "services/storenode/cli/*.go", "pkg/flagenv/*.go", "pkg/natsauth/*.go"}
	gatewaySources   = []string{"services/gateway/*.go", "pkg/flagenv/*.go", "pkg/natsauth/*.go"}
)

// checkEnvKnown fails for a LOGBOOK_* variable that no source of the
// binary names: a typo would be silently ignored by the binary.
func checkEnvKnown(t *testing.T, who string, names []string, sources ...string) {
	t.Helper()
	var all []byte
	for _, pattern := range sources {
		files, _ := filepath.Glob(filepath.Join(root, pattern))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, b...)
		}
	}
	if len(all) == 0 {
		t.Fatalf("no sources in %v", sources)
	}
	for _, name := range names {
		if strings.HasPrefix(name, "LOGBOOK_") && !bytes.Contains(all, []byte(`"`+name+`"`)) {
			t.Errorf("%s: %s is not a variable the binary reads", who, name)
		}
	}
}

// checkNATSURL: the URL names the NATS Service and its client port, over
// TLS (the deployment's NATS requires it).
func checkNATSURL(t *testing.T, m *manifests, who, raw string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "tls" {
		t.Errorf("%s: LOGBOOK_NATS_URL %q is not a tls:// URL", who, raw)
		return
	}
	svc := m.services[u.Hostname()]
	if svc == nil {
		t.Errorf("%s: LOGBOOK_NATS_URL %q: no Service %q", who, raw, u.Hostname())
		return
	}
	p, _ := strconv.Atoi(u.Port())
	checkServicePort(t, svc, "client", p)
}

func checkSelector(t *testing.T, who string, sel *metav1.LabelSelector, podLabels map[string]string) {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil || s.Empty() || !s.Matches(labels.Set(podLabels)) {
		t.Errorf("%s: selector %v does not select its pods' labels %v (%v)", who, sel, podLabels, err)
	}
}

func checkServiceSelects(t *testing.T, svc *corev1.Service, podLabels map[string]string) {
	t.Helper()
	if len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(podLabels)) {
		t.Errorf("Service %s selector %v does not select pods labelled %v", svc.Name, svc.Spec.Selector, podLabels)
	}
}

func checkServicePort(t *testing.T, svc *corev1.Service, name string, want int) {
	t.Helper()
	for _, p := range svc.Spec.Ports {
		if p.Name == name {
			if int(p.Port) != want || p.TargetPort.String() != name {
				t.Errorf("Service %s port %s: %d → %s, want %d → %s", svc.Name, name, p.Port, p.TargetPort.String(), want, name)
			}
			return
		}
	}
	t.Errorf("Service %s has no port %s", svc.Name, name)
}

func container(t *testing.T, spec corev1.PodSpec, name string) *corev1.Container {
	t.Helper()
	for i := range spec.Containers {
		if spec.Containers[i].Name == name {
			return &spec.Containers[i]
		}
	}
	t.Fatalf("no container %s", name)
	return nil
}

func containerPort(t *testing.T, c *corev1.Container, name string) int {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return int(p.ContainerPort)
		}
	}
	t.Fatalf("container %s has no port %s", c.Name, name)
	return 0
}

func envMap(t *testing.T, c *corev1.Container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, e := range c.Env {
		if _, dup := env[e.Name]; dup {
			t.Errorf("container %s sets %s twice", c.Name, e.Name)
		}
		env[e.Name] = e.Value
	}
	return env
}

func envIndex(c *corev1.Container, name string) int {
	return slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == name })
}

func mountPath(c *corev1.Container, volume string) string {
	for _, m := range c.VolumeMounts {
		if m.Name == volume {
			return m.MountPath
		}
	}
	return ""
}

// portOf returns the port of host:port (host may be empty).
func portOf(t *testing.T, hostport string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(hostport)
	n, err2 := strconv.Atoi(p)
	if err != nil || err2 != nil {
		t.Errorf("%q is not host:port", hostport)
	}
	return n
}

func keys[V any](m map[string]V) []string {
	return slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	})
}
