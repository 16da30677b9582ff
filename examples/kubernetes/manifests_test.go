package kubernetes_test

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/second-hand/chrony_exporter/chronyproto"
)

// The manifests are checked as the API server would read them, field by
// field into the typed objects, so a misspelt or misplaced field fails here
// instead of being dropped silently (or rejected) at apply time.

// The documented example of chronyd's uid and gid on a node (README.md and
// the comment in daemonset.yaml; `id _chrony` on the node gives the real
// ones).
const (
	chronyUID = 102
	chronyGID = 105
)

// metricsPort is the exporter's default listen port (--web.listen-address,
// and the Dockerfile's EXPOSE).
const metricsPort = 9123

// chronyTimeout is the exporter's default --chrony.timeout: the longest a
// request to / or /metrics waits for chronyd.
const chronyTimeout = 5 * time.Second

// hostRunDir is chronyd's socket directory on the node.
const hostRunDir = "/run/chrony"

// decodeStrict reads a one-document YAML manifest into obj as the API
// server does with strict field validation: duplicate keys, unknown fields
// and fields in the wrong case are errors.
func decodeStrict(t *testing.T, file string, obj any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile(`(?m)^---`).Match(b) {
		t.Fatalf("%s: one object per file", file)
	}
	j, err := yaml.YAMLToJSONStrict(b)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	strict, err := kjson.UnmarshalStrict(j, obj, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	for _, e := range strict {
		t.Errorf("%s: %v", file, e)
	}
	if t.Failed() {
		t.FailNow()
	}
}

// checkType fails the test unless a manifest's apiVersion and kind are
// the wanted ones.
func checkType(t *testing.T, file string, tm metav1.TypeMeta, apiVersion, kind string) {
	t.Helper()
	if tm.APIVersion != apiVersion || tm.Kind != kind {
		t.Fatalf("%s is %s %s, want %s %s", file, tm.APIVersion, tm.Kind, apiVersion, kind)
	}
}

// loadDaemonSet decodes daemonset.yaml and returns it with its one
// container.
func loadDaemonSet(t *testing.T) (*appsv1.DaemonSet, *corev1.Container) {
	t.Helper()
	var ds appsv1.DaemonSet
	decodeStrict(t, "daemonset.yaml", &ds)
	checkType(t, "daemonset.yaml", ds.TypeMeta, "apps/v1", "DaemonSet")
	cs := ds.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("daemonset.yaml has %d containers, want the exporter alone", len(cs))
	}
	return &ds, &cs[0]
}

// metricsContainerPort returns the container's port named "metrics".
func metricsContainerPort(t *testing.T, c *corev1.Container) corev1.ContainerPort {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == "metrics" {
			return p
		}
	}
	t.Fatalf("container %s has no port named metrics: %+v", c.Name, c.Ports)
	return corev1.ContainerPort{}
}

// resolvesTo reports whether a port given by name or number is the
// container port p.
func resolvesTo(port intstr.IntOrString, p corev1.ContainerPort) bool {
	if port.Type == intstr.String {
		return port.StrVal == p.Name
	}
	return port.IntVal == p.ContainerPort
}

// TestDaemonSetRunsAsChronyd checks that the exporter runs as chronyd's
// documented uid and gid, never as root, and with nothing it does not need:
// no privilege escalation, no capabilities, a read-only root file system
// and the runtime's seccomp profile. The container's settings override the
// pod's, so each is checked where it takes effect.
func TestDaemonSetRunsAsChronyd(t *testing.T) {
	ds, c := loadDaemonSet(t)
	pod := ds.Spec.Template.Spec.SecurityContext
	if pod == nil {
		pod = &corev1.PodSecurityContext{}
	}
	ctr := c.SecurityContext
	if ctr == nil {
		ctr = &corev1.SecurityContext{}
	}
	first := func(a, b *int64) *int64 {
		if a != nil {
			return a
		}
		return b
	}
	uid, gid := first(ctr.RunAsUser, pod.RunAsUser), first(ctr.RunAsGroup, pod.RunAsGroup)
	if uid == nil || *uid != chronyUID || gid == nil || *gid != chronyGID {
		t.Errorf("the exporter must run as chronyd's documented %d:%d (runAsUser %v, runAsGroup %v)", chronyUID, chronyGID, deref(uid), deref(gid))
	}
	nonRoot := ctr.RunAsNonRoot
	if nonRoot == nil {
		nonRoot = pod.RunAsNonRoot
	}
	if nonRoot == nil || !*nonRoot {
		t.Errorf("runAsNonRoot is not true")
	}
	if ctr.ReadOnlyRootFilesystem == nil || !*ctr.ReadOnlyRootFilesystem {
		t.Errorf("readOnlyRootFilesystem is not true")
	}
	if ctr.AllowPrivilegeEscalation == nil || *ctr.AllowPrivilegeEscalation {
		t.Errorf("allowPrivilegeEscalation is not false")
	}
	if ctr.Privileged != nil && *ctr.Privileged {
		t.Errorf("the container is privileged")
	}
	if ctr.Capabilities == nil || !slices.Contains(ctr.Capabilities.Drop, "ALL") || len(ctr.Capabilities.Add) > 0 {
		t.Errorf("capabilities must drop ALL and add none: %+v", ctr.Capabilities)
	}
	seccomp := ctr.SeccompProfile
	if seccomp == nil {
		seccomp = pod.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("the seccomp profile is not RuntimeDefault: %+v", seccomp)
	}
	spec := ds.Spec.Template.Spec
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		t.Errorf("the pod shares a host namespace (network %v, PID %v, IPC %v); the socket needs none", spec.HostNetwork, spec.HostPID, spec.HostIPC)
	}
	if spec.HostUsers != nil && !*spec.HostUsers {
		t.Errorf("hostUsers: false maps the pod's uid away from chronyd's on the node")
	}
}

// ptrString is the string *p, or "" when p is nil.
func ptrString[S ~string](p *S) string {
	if p == nil {
		return ""
	}
	return string(*p)
}

// deref is *p, or nil when p is nil.
func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestDaemonSetReachesChronyd checks the way to the node's chronyd: its
// socket directory mounted from the node at the same path, writable (the
// exporter binds its client socket there), never created by the kubelet,
// and --chrony.address naming chronyd's default socket through that mount.
func TestDaemonSetReachesChronyd(t *testing.T) {
	ds, c := loadDaemonSet(t)
	var vol *corev1.Volume
	for i, v := range ds.Spec.Template.Spec.Volumes {
		if v.HostPath != nil && path.Clean(v.HostPath.Path) == hostRunDir {
			vol = &ds.Spec.Template.Spec.Volumes[i]
		}
	}
	if vol == nil {
		t.Fatalf("no hostPath volume of %s", hostRunDir)
	}
	if vol.HostPath.Type == nil || *vol.HostPath.Type != corev1.HostPathDirectory {
		t.Errorf("the hostPath type is %q, want Directory: a directory the kubelet creates is root's, and chronyd refuses it", ptrString(vol.HostPath.Type))
	}
	var mnt *corev1.VolumeMount
	for i, m := range c.VolumeMounts {
		if m.Name == vol.Name {
			mnt = &c.VolumeMounts[i]
		}
	}
	if mnt == nil {
		t.Fatalf("volume %s is not mounted in the container", vol.Name)
	}
	if path.Clean(mnt.MountPath) != hostRunDir || mnt.SubPath != "" || mnt.SubPathExpr != "" {
		t.Errorf("%s is mounted at %s (subPath %q), want %s", hostRunDir, mnt.MountPath, mnt.SubPath+mnt.SubPathExpr, hostRunDir)
	}
	if mnt.ReadOnly {
		t.Errorf("%s is mounted read-only; the exporter binds its client socket in it", mnt.MountPath)
	}

	var addr string
	for _, a := range append(slices.Clone(c.Command), c.Args...) {
		if v, ok := strings.CutPrefix(a, "--chrony.address="); ok {
			addr = v
		}
	}
	sock, ok := strings.CutPrefix(addr, "unix://")
	if !ok {
		t.Fatalf("--chrony.address is %q, want unix://%s/…", addr, mnt.MountPath)
	}
	rel, err := filepath.Rel(mnt.MountPath, sock)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		t.Fatalf("--chrony.address=%s is not in the mount %s", addr, mnt.MountPath)
	}
	if onNode := path.Join(vol.HostPath.Path, rel); !slices.Contains(chronyproto.DefaultSocketPaths, onNode) {
		t.Errorf("--chrony.address=%s is %s on the node, not one of chronyd's default sockets %v", addr, onNode, chronyproto.DefaultSocketPaths)
	}
}

// TestDaemonSetPod checks the rest of the pod: selector and labels agree,
// the image is the Makefile's at the VERSION file's tag, the metrics port,
// probes that reach it and outlast a read of chronyd, and resources.
func TestDaemonSetPod(t *testing.T) {
	ds, c := loadDaemonSet(t)
	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(labels.Set(ds.Spec.Template.Labels)) {
		t.Errorf("the DaemonSet's selector %v does not select its pods' labels %v (%v)", ds.Spec.Selector, ds.Spec.Template.Labels, err)
	}

	root := filepath.Join("..", "..")
	version := strings.TrimSpace(readFile(t, filepath.Join(root, "VERSION")))
	m := regexp.MustCompile(`(?m)^DOCKER_IMAGE\s*\?=\s*(\S+)\s*$`).FindStringSubmatch(readFile(t, filepath.Join(root, "Makefile")))
	if m == nil {
		t.Fatal("the Makefile has no DOCKER_IMAGE")
	}
	if want := m[1] + ":" + version; c.Image != want {
		t.Errorf("image %s, want %s (make docker)", c.Image, want)
	}

	p := metricsContainerPort(t, c)
	if p.ContainerPort != metricsPort {
		t.Errorf("the metrics port is %d, want the exporter's %d", p.ContainerPort, metricsPort)
	}
	for name, probe := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if probe == nil || probe.HTTPGet == nil {
			t.Errorf("no HTTP %s probe", name)
			continue
		}
		if probe.HTTPGet.Path != "/" && probe.HTTPGet.Path != "/metrics" {
			t.Errorf("the %s probe asks %s, which the exporter does not serve", name, probe.HTTPGet.Path)
		}
		if !resolvesTo(probe.HTTPGet.Port, p) {
			t.Errorf("the %s probe's port %s is not the metrics port", name, probe.HTTPGet.Port.String())
		}
		if time.Duration(probe.TimeoutSeconds)*time.Second <= chronyTimeout {
			t.Errorf("the %s probe gives up after %ds, before the exporter stops waiting for chronyd", name, probe.TimeoutSeconds)
		}
	}

	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := c.Resources.Requests[r]
		lim, okLim := c.Resources.Limits[r]
		if !okReq || !okLim || req.IsZero() || req.Cmp(lim) > 0 {
			t.Errorf("%s: request %s and limit %s must both be set, the request not above the limit", r, req.String(), lim.String())
		}
	}
}

// TestService checks that the Service selects the exporter's pods and
// names its port as the container does.
func TestService(t *testing.T) {
	ds, c := loadDaemonSet(t)
	var svc corev1.Service
	decodeStrict(t, "service.yaml", &svc)
	checkType(t, "service.yaml", svc.TypeMeta, "v1", "Service")
	if len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(ds.Spec.Template.Labels)) {
		t.Errorf("the Service's selector %v does not select the pods' labels %v", svc.Spec.Selector, ds.Spec.Template.Labels)
	}
	p := metricsContainerPort(t, c)
	found := false
	for _, sp := range svc.Spec.Ports {
		if sp.Name != p.Name {
			continue
		}
		found = true
		if sp.Port != metricsPort {
			t.Errorf("the Service's port %s is %d, want %d", sp.Name, sp.Port, metricsPort)
		}
		target := sp.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(sp.Port)
		}
		if !resolvesTo(target, p) {
			t.Errorf("the Service's port %s targets %s, not the container's %s", sp.Name, target.String(), p.Name)
		}
	}
	if !found {
		t.Errorf("the Service has no port named %s: %+v", p.Name, svc.Spec.Ports)
	}
}

// TestPodMonitor checks that the Prometheus Operator's PodMonitor selects
// the exporter's pods and scrapes the container's metrics port.
func TestPodMonitor(t *testing.T) {
	ds, c := loadDaemonSet(t)
	var pm monitoringv1.PodMonitor
	decodeStrict(t, "podmonitor.yaml", &pm)
	checkType(t, "podmonitor.yaml", pm.TypeMeta, "monitoring.coreos.com/v1", "PodMonitor")
	sel, err := metav1.LabelSelectorAsSelector(&pm.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(labels.Set(ds.Spec.Template.Labels)) {
		t.Errorf("the PodMonitor's selector %v does not select the pods' labels %v (%v)", pm.Spec.Selector, ds.Spec.Template.Labels, err)
	}
	p := metricsContainerPort(t, c)
	if len(pm.Spec.PodMetricsEndpoints) == 0 {
		t.Fatal("the PodMonitor has no podMetricsEndpoints")
	}
	for i, ep := range pm.Spec.PodMetricsEndpoints {
		if ep.Port == nil || *ep.Port != p.Name {
			t.Errorf("endpoint %d scrapes port %q, want the container's %s", i, ptrString(ep.Port), p.Name)
		}
		if ep.Path != "" && ep.Path != "/metrics" {
			t.Errorf("endpoint %d scrapes %s, want /metrics", i, ep.Path)
		}
	}
}

// TestKustomization checks that kustomization.yaml lists every manifest
// here, and README.md documents the ids the DaemonSet uses and how to find
// them.
func TestKustomization(t *testing.T) {
	var k struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Resources  []string `json:"resources"`
	}
	decodeStrict(t, "kustomization.yaml", &k)
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml is %s %s", k.APIVersion, k.Kind)
	}
	manifests, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	manifests = slices.DeleteFunc(manifests, func(f string) bool { return f == "kustomization.yaml" })
	got := slices.Sorted(slices.Values(k.Resources))
	if !slices.Equal(got, manifests) {
		t.Errorf("kustomization.yaml lists %v, the directory has %v", got, manifests)
	}

	readme := readFile(t, "README.md")
	for _, want := range []string{"id _chrony", fmt.Sprintf("runAsUser: %d", chronyUID), fmt.Sprintf("runAsGroup: %d", chronyGID)} {
		if !strings.Contains(readme, want) {
			t.Errorf("README.md does not say %q", want)
		}
	}
}

// readFile returns a file's content, failing the test if it cannot.
func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
