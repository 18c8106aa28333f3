package model

import (
	"net/url"
	"path"
	"strings"
)

// Canonical asset keys. Every key starts with a namespace and a colon so
// that keys of different kinds never collide:
//
//	image:docker.io/library/nginx:1.25          ImageKey
//	image:docker.io/library/nginx@sha256:…      (a digest wins over a tag)
//	repo:github.com/org/name                    RepoKey
//	k8s:cluster/namespace/Kind/name             K8sKey
//	arn:aws:s3:::bucket                         (ARNs are their own key)
//	host:10.0.0.1, host:10.0.0.1:443            HostKey
//	url:https://shop.example.com/login          URLKey
//	file:path/in/target                         FileKey
//	pkg:npm/lodash@4.17.21                      (purls are their own key)

// ImageRef is a parsed container image reference.
type ImageRef struct {
	Registry   string // docker.io when absent
	Repository string // library/nginx
	Tag        string // 1.25, empty when absent
	Digest     string // sha256:…, empty when absent
}

// ParseImageRef parses an image reference the way the Docker CLI resolves
// it: a first path component with a dot, a colon or "localhost" is a
// registry, otherwise docker.io; a single-component Docker Hub name lives
// in library/; a missing tag is "latest" unless a digest is given. It
// returns ok=false for text that is not an image reference.
func ParseImageRef(ref string) (ImageRef, bool) {
	ref = strings.TrimSpace(ref)
	if ref == "" || strings.ContainsAny(ref, " \t\n\"'<>\\") {
		return ImageRef{}, false
	}
	var r ImageRef
	if i := strings.Index(ref, "@"); i >= 0 {
		r.Digest = strings.ToLower(ref[i+1:])
		ref = ref[:i]
		if !strings.Contains(r.Digest, ":") {
			return ImageRef{}, false
		}
	}
	if i := strings.LastIndex(ref, ":"); i >= 0 && !strings.Contains(ref[i+1:], "/") {
		r.Tag = ref[i+1:]
		ref = ref[:i]
	}
	if ref == "" {
		return ImageRef{}, false
	}
	first, rest, found := strings.Cut(ref, "/")
	if found && (strings.ContainsAny(first, ".:") || first == "localhost") {
		r.Registry = strings.ToLower(first)
		r.Repository = rest
	} else {
		r.Registry = "docker.io"
		r.Repository = ref
	}
	switch r.Registry {
	case "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		r.Registry = "docker.io"
	}
	r.Repository = strings.ToLower(r.Repository)
	if r.Registry == "docker.io" && !strings.Contains(r.Repository, "/") {
		r.Repository = "library/" + r.Repository
	}
	if r.Tag == "" && r.Digest == "" {
		r.Tag = "latest"
	}
	return r, true
}

// Name is the reference without tag or digest: docker.io/library/nginx.
func (r ImageRef) Name() string { return r.Registry + "/" + r.Repository }

// String is the fully qualified reference; a digest wins over a tag.
func (r ImageRef) String() string {
	if r.Digest != "" {
		return r.Name() + "@" + r.Digest
	}
	return r.Name() + ":" + r.Tag
}

// ImageKey returns the canonical key of an image reference. A digest wins
// over a tag, since a tag moves and a digest does not. Text that does not
// parse as a reference is kept, lower-cased, under the image: namespace.
func ImageKey(ref string) string {
	r, ok := ParseImageRef(ref)
	if !ok {
		return "image:" + strings.ToLower(strings.TrimSpace(ref))
	}
	return "image:" + r.String()
}

// RepoKey returns the canonical key of a source repository URL: scheme,
// user info, ".git" suffix and case are dropped, and scp-like SSH addresses
// (git@github.com:org/repo.git) become host/path, so that
// https://github.com/Org/Repo.git and git@github.com:org/repo name one key.
func RepoKey(u string) string {
	s := strings.TrimSpace(u)
	s = strings.TrimPrefix(s, "git+")
	if i := strings.Index(s, "://"); i >= 0 {
		if pu, err := url.Parse(s); err == nil && pu.Host != "" {
			s = pu.Hostname() + pu.Path
		} else {
			s = s[i+3:]
		}
	} else if at := strings.Index(s, "@"); at >= 0 && strings.Contains(s[at:], ":") {
		// scp-like: user@host:path
		s = s[at+1:]
		s = strings.Replace(s, ":", "/", 1)
	}
	s = strings.TrimSuffix(strings.TrimRight(s, "/"), ".git")
	return "repo:" + strings.ToLower(s)
}

// K8sKey returns the key of a Kubernetes object. An empty cluster is
// "default"; cluster-scoped objects have an empty namespace.
func K8sKey(cluster, namespace, kind, name string) string {
	if cluster == "" {
		cluster = "default"
	}
	return "k8s:" + cluster + "/" + namespace + "/" + kind + "/" + name
}

// HostKey returns the key of a host, or of one port on it when port is
// not empty. Host names are lower-cased.
func HostKey(host, port string) string {
	host = strings.ToLower(strings.TrimSpace(host))
	if port == "" || port == "0" {
		return "host:" + host
	}
	return "host:" + host + ":" + port
}

// URLKey returns the key of a web endpoint: scheme and host lower-cased,
// default ports, query and fragment dropped. Text that does not parse is
// kept as given.
func URLKey(raw string) string {
	pu, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || pu.Host == "" {
		return "url:" + strings.TrimSpace(raw)
	}
	host := strings.ToLower(pu.Host)
	scheme := strings.ToLower(pu.Scheme)
	if (scheme == "http" && strings.HasSuffix(host, ":80")) || (scheme == "https" && strings.HasSuffix(host, ":443")) {
		host = host[:strings.LastIndex(host, ":")]
	}
	p := pu.EscapedPath()
	if p == "" {
		p = "/"
	}
	return "url:" + scheme + "://" + host + p
}

// FileKey returns the key of a file or directory target, cleaned and with
// forward slashes.
func FileKey(p string) string {
	p = strings.ReplaceAll(strings.TrimSpace(p), "\\", "/")
	if p == "" {
		return "file:."
	}
	return "file:" + path.Clean(p)
}

// KindOfKey guesses an asset's kind from its key's namespace; it is used
// when a source names an asset it does not describe.
func KindOfKey(key string) AssetKind {
	ns, rest, _ := strings.Cut(key, ":")
	switch ns {
	case "image":
		return KindImage
	case "repo":
		return KindRepository
	case "host":
		return KindHost
	case "url":
		return KindEndpoint
	case "file":
		return KindFile
	case "pkg":
		return KindPackage
	case "k8s":
		// The kind is the second last segment: cluster names may hold
		// slashes (EKS ARNs), object names do not.
		parts := strings.Split(rest, "/")
		if len(parts) >= 3 {
			switch parts[len(parts)-2] {
			case "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod", "ReplicaSet":
				return KindWorkload
			case "ServiceAccount", "Role", "ClusterRole":
				return KindIdentity
			case "Secret", "ConfigMap":
				return KindSecret
			case "Service", "Ingress":
				return KindLoadBalancer
			case "Node":
				return KindNode
			}
		}
		return KindResource
	case "arn":
		return KindResource
	}
	return KindResource
}

// ProjectKey returns the key of a scanned project as reports and users
// name it: a repository URL (https, ssh or scp-like) gives its RepoKey; a
// path or a bare name gives "repo:" and the name, lower-cased, with
// slashes forward and without ".git"; "" and "." give FileKey, since they
// name no project at all.
func ProjectKey(name string) string {
	if strings.Contains(name, "://") || strings.HasPrefix(name, "git@") {
		return RepoKey(name)
	}
	p := strings.ToLower(strings.TrimSuffix(strings.Trim(strings.ReplaceAll(strings.TrimSpace(name), "\\", "/"), "/"), ".git"))
	if p == "" || p == "." {
		return FileKey(name)
	}
	return "repo:" + p
}
