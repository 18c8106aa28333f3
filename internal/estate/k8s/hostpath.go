package k8s

import (
	"path"
	"strings"
)

// Labels of workloads this package sets beyond model's.
const (
	// LabelHostRead: a hostPath mount lets the pods read the node's
	// sensitive files (kubelet credentials, other pods' tokens under
	// /var/lib/kubelet/pods): KubeHound's EXPLOIT_HOST_READ and
	// EXPLOIT_HOST_TRAVERSE. The workload also mounts the node.
	LabelHostRead = "k8s.host-read"
	// LabelShareProcessNamespace: the pod's containers share one process
	// namespace (KubeHound's SHARE_PS_NAMESPACE).
	LabelShareProcessNamespace = "k8s.share-process-namespace"
)

// hostUse is what a hostPath mount gives the pod's code over its node.
type hostUse uint8

const (
	hostNothing hostUse = iota
	hostRead            // read the node's credentials and other pods' files
	hostExec            // run code on the node
)

// runtimeSockets are the container runtime sockets and the folders that
// hold them. Talking to one starts a privileged container on the node; a
// read-only mount does not stop it, since connecting to a socket is no
// write to the file system (KubeHound's EXPLOIT_CONTAINERD_SOCK).
var runtimeSockets = map[string]bool{
	"/var/run/docker.sock": true, "/run/docker.sock": true,
	"/run/containerd/containerd.sock": true, "/var/run/containerd/containerd.sock": true,
	"/var/run/crio/crio.sock": true, "/run/crio/crio.sock": true,
	"/var/run/cri-dockerd.sock": true, "/run/cri-dockerd.sock": true,
	"/var/run": true, "/run": true, "/run/containerd": true, "/var/run/containerd": true,
	"/var/run/crio": true, "/run/crio": true, "/var/run/docker": true,
}

// writeExec are the folders where a write runs code on the node: cron,
// systemd units, binaries and libraries, kubelet static pods and pod
// volumes, /proc/sys/kernel/core_pattern and /sys (usermode helpers),
// devices (raw disks). KubeHound's EXPLOIT_HOST_WRITE, CE_UMH_CORE_PATTERN.
var writeExec = []string{"/etc", "/root", "/home", "/usr", "/bin", "/sbin", "/lib", "/lib64", "/boot", "/opt",
	"/var/lib/kubelet", "/var/lib/docker", "/var/lib/containerd", "/var/spool/cron", "/proc", "/sys", "/dev"}

// readSensitive are the folders whose reading yields credentials: the
// kubelet's and the other pods' tokens, /etc's keys and shadow file,
// root's files, /proc's environments.
var readSensitive = []string{"/etc", "/root", "/home", "/var/lib/kubelet", "/var/lib/docker", "/var/lib/containerd", "/proc"}

func under(p string, dirs []string) bool {
	for _, d := range dirs {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// hostPathUse classifies a hostPath mount of p: a runtime socket runs
// code whatever the mount mode; / and the writeExec folders run code when
// writable; / and the readSensitive folders, or a writable /var/log (the
// symlink attack read through the kubelet's log endpoint,
// CE_VAR_LOG_SYMLINK), read the node's credentials; anything else (a data
// folder, /tmp, /var/log read-only) gives nothing over the node.
func hostPathUse(p string, writable bool) hostUse {
	p = path.Clean("/" + strings.TrimSpace(p))
	switch {
	case runtimeSockets[p] || strings.HasSuffix(p, ".sock") && under(p, []string{"/var/run", "/run"}):
		return hostExec
	case writable && (p == "/" || under(p, writeExec)):
		return hostExec
	case p == "/" || under(p, readSensitive) || writable && under(p, []string{"/var/log"}):
		return hostRead
	}
	return hostNothing
}
