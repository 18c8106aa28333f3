package terraform

import (
	"slices"
	"strings"

	"github.com/ctem-dev/ctem/internal/model"
)

// Escape labels of ECS tasks, as package k8s names them for pods: code in
// the task reaches the container instance it runs on.
const (
	LabelEscapePrivileged  = "escape.privileged"   // a container runs privileged
	LabelEscapeHostPath    = "escape.host-path"    // a host folder is mounted (the Docker socket among them)
	LabelEscapeHostNetwork = "escape.host-network" // network_mode "host"
	LabelEscapeHostPID     = "escape.host-pid"     // pid_mode "host"
)

// ecs reads what lets an ECS task reach its container instance
// (privileged containers, host volumes mounted, the host's network or
// process namespace) into escape labels of the task definition and its
// services, and ties services of the EC2 launch type to the instances of
// their cluster: instances whose user data names the cluster
// (ECS_CLUSTER=name, or a reference to the aws_ecs_cluster) —
// service —runs-on→ instance. Fargate tasks run on no instance of the
// estate.
func (b *builder) ecs() {
	escapes := map[string][]string{} // task definition key -> labels
	for _, r := range b.of("aws_ecs_task_definition") {
		hostVolumes := map[string]bool{}
		for _, v := range blocks(r.v, "volume") {
			if hp := str(v["host_path"]); hp != "" {
				hostVolumes[str(v["name"])] = true
			}
		}
		var labels []string
		for _, c := range containerDefs(b, r.v["container_definitions"]) {
			if isTrue(c["privileged"]) {
				labels = appendNew(labels, LabelEscapePrivileged)
			}
			for _, m := range anyMaps(c["mountPoints"]) {
				if hostVolumes[str(m["sourceVolume"])] {
					labels = appendNew(labels, LabelEscapeHostPath)
				}
			}
		}
		if str(r.v["network_mode"]) == "host" {
			labels = appendNew(labels, LabelEscapeHostNetwork)
		}
		if str(r.v["pid_mode"]) == "host" {
			labels = appendNew(labels, LabelEscapeHostPID)
		}
		slices.Sort(labels)
		escapes[r.key] = labels
		for _, l := range labels {
			b.label(r.key, l, "true")
		}
	}
	clusterHosts := map[string][]string{} // cluster key -> instance keys
	for _, c := range b.of("aws_ecs_cluster") {
		name := str(c.v["name"])
		for _, i := range b.of("aws_instance") {
			ud := str(i.v["user_data"])
			if slices.Contains(refs(ud), c.base) || name != "" && !strings.Contains(name, refMark) && strings.Contains(ud, "ECS_CLUSTER="+name) {
				clusterHosts[c.key] = append(clusterHosts[c.key], i.key)
			}
		}
	}
	for _, s := range b.of("aws_ecs_service") {
		for _, td := range b.lookup(str(s.v["task_definition"]), "aws_ecs_task_definition") {
			for _, l := range escapes[td.key] {
				b.label(s.key, l, "true")
			}
		}
		if lt := str(s.v["launch_type"]); lt == "FARGATE" || lt == "EXTERNAL" {
			continue
		}
		for _, c := range b.lookup(str(s.v["cluster"]), "aws_ecs_cluster") {
			for _, h := range clusterHosts[c.key] {
				b.rel(s.key, h, model.RelRunsOn, "")
			}
		}
	}
}
