package graph

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/ctem-dev/ctem/internal/intel/effect"
	"github.com/ctem-dev/ctem/internal/intel/iam"
	"github.com/ctem-dev/ctem/internal/model"
)

// Rule is one transition rule of the attack-path model. When says in
// words what enables it and Then what it gives; Probability computes the
// probability of one way to take the step from the weakness that enables
// it, or from nothing (nil) for relation-only steps.
type Rule struct {
	Name        string
	When        string
	Then        string
	Probability func(w *Weakness) float64
	// Technique is the MITRE ATT&CK technique id the step is an instance
	// of (T1190, T1078.004, ...); empty when none fits.
	Technique string
	// Catalogue names the public catalogue entries the rule implements:
	// KubeHound attack ids (CE_PRIV_MOUNT, ...), Rhino Security Labs'
	// IAM privilege-escalation methods, PMapper edge checks.
	Catalogue []string
}

// The rule ids, indexes into Rules.
const (
	ruleRCE uint8 = iota
	ruleInjection
	ruleSSRF
	ruleFileRead
	ruleWorkloadIdentity
	ruleSecretsInReach
	ruleLateral
	ruleEscape
	rulePermission
	ruleLeakedCredential
	ruleSupplyChain
	ruleOpenDataStore
	ruleRouting
	ruleMembership
	ruleAuthBypass
	ruleLocalPrivEsc
	ruleNodeTakeover
	ruleHostRead
	ruleHostNetwork
	ruleNamespaceAdmin
	rulePodExec
	rulePodCreate
	ruleImpersonate
	ruleRoleBind
	ruleNodeProxy
	ruleTokenRequest
	ruleCloudIdentity
	ruleAWSAssumeRole
	ruleAWSPassRole
	ruleAWSCredentials
	ruleAWSTrustRewrite
	ruleAWSGroupJoin
	ruleAWSPolicyRewrite
	ruleAWSInstanceProfile
	ruleAWSComputeTakeover
	ruleAWSDatabase
	ruleAWSAccountAdmin
	ruleAWSCollection
	numRules
)

// Probabilities of relation-only steps. Each is a fact of the estate, not
// a guess about an exploit, so each is 1 unless something the estate does
// not show can still stop the attacker.
const (
	// pCertain: a fact gives the step by itself. A pod's service
	// account token is mounted in it; a mounted secret is readable by
	// its process; a permission is the permission; traffic to a load
	// balancer reaches its backends; a group member holds the group's
	// permissions.
	pCertain = 1.0
	// pNearCertain: misconfigurations and valid credentials. A
	// privileged container reaches its node by well-known techniques; a
	// known IAM escalation is an API call away; a credential found in a
	// secret may have been rotated since. 0.95 leaves room for controls
	// the estate does not show (SCPs, permission boundaries, seccomp).
	pNearCertain = 0.95
	// pSupplyChain: write on a repository or image runs code in the
	// workloads built from it once the pipeline runs or the pod
	// restarts: near certain, a little delayed and reviewable.
	pSupplyChain = 0.9
	// pIMDS: an SSRF usually controls the URL but not always the
	// method or headers; IMDSv1 needs only a GET.
	pIMDS = 0.9
)

// weaknessProbability is the probability model of weakness steps. The
// numbers, and why:
//
//   - Base: a vulnerability (CVE) with no evidence 0.3: exploitability
//     given network reach, for a targeted attacker; EPSS (exploitation
//     in the wild within 30 days) is far lower but answers another
//     question, so it only acts as a floor. A code (SAST) finding 0.4: the
//     weakness is in first-party code on a known route. Misconfigurations
//     and secrets 0.95: nothing to exploit, the door is open. DAST
//     findings 0.8: observed from outside.
//   - public-exploit raises to at least 0.7; dast-confirmed and
//     probe-confirmed to at least 0.9: someone ran it.
//   - reachable-call halves the distance to 1 (the vulnerable function is
//     called); runtime-loaded takes a quarter of it; imported-only and
//     required-only halve the probability (the code is likely not
//     reached).
//   - High attack complexity halves it (a race, a non-default setting).
//   - A low-confidence effect (a guess from the CVSS vector) is × 0.8.
//   - EPSS is a floor: exploited in the wild implies exploitable.
//   - KEV raises to at least 0.95: exploitation is a fact.
//   - vex-not-affected makes it 0: the vendor says the code is not
//     reached.
//
// The result is clamped to [0.01, 0.99] so that -log p is finite and no
// exploit is treated as certain.
func weaknessProbability(w *Weakness) float64 {
	if w == nil {
		return pCertain
	}
	p := 0.3
	switch w.Exposure.Kind {
	case model.FindingCode:
		p = 0.4
	case model.FindingDAST:
		p = 0.8
	case model.FindingMisconfig, model.FindingSecret:
		p = pNearCertain
	}
	for _, e := range w.Evidence {
		switch e {
		case model.EvidencePublicExploit:
			p = max(p, 0.7)
		case model.EvidenceDASTConfirmed, model.EvidenceProbeConfirmed, model.EvidenceRuntimeExec:
			p = max(p, 0.9)
		}
	}
	for _, e := range w.Evidence {
		switch e {
		case model.EvidenceReachableCall:
			p += (1 - p) / 2
		case model.EvidenceRuntimeLoaded:
			p += (1 - p) / 4
		case model.EvidenceImportedOnly, model.EvidenceRequiredOnly:
			p /= 2
		case model.EvidenceVEXNotAffected:
			return 0
		}
	}
	if strings.EqualFold(w.AttackComplexity, "high") {
		p /= 2
	}
	if w.Effect.Confidence == effect.Low {
		p *= 0.8
	}
	p = max(p, w.EPSS)
	if w.KEV || slices.Contains(w.Evidence, model.EvidenceKEV) {
		p = max(p, 0.95)
	}
	// A probe that found the entry closed or filtered, and none that
	// found it open, makes the step far less likely but not impossible
	// (the probe saw the network from one place only).
	if slices.Contains(w.Evidence, model.EvidenceProbeRefuted) && !slices.Contains(w.Evidence, model.EvidenceProbeConfirmed) {
		p /= 4
	}
	// Likewise an image the live cluster does not run: the manifests
	// name it, but no container of theirs runs it now.
	if slices.Contains(w.Evidence, model.EvidenceImageNotRunning) && !slices.Contains(w.Evidence, model.EvidenceImageRunning) {
		p /= 4
	}
	return min(max(p, 0.01), 0.99)
}

func constant(p float64) func(*Weakness) float64 {
	return func(*Weakness) float64 { return p }
}

// Rules is the transition table: DESIGN.md's rules, four additions the
// estate needs (routing, membership, authentication bypass, local
// privilege escalation) and the Kubernetes techniques of KubeHound's
// catalogue (node-takeover to cloud-identity). The code that applies each
// rule is in build.go, the Kubernetes ones' in k8s.go.
var Rules = [numRules]Rule{
	ruleRCE:              {"remote-code-execution", "network(A) and a weakness on A (or on an image A runs, or the repository it is built from, or the repository a function is built from directly) whose effect is exec; a weakness on port N of a host (host:ADDR:N, as Nmap and Nuclei name it) is reached only through exposes, routes-to and connects-to relations whose ports admit N", "exec(A), and exec(H) for a port of host H", weaknessProbability, "T1190", []string{"ENDPOINT_EXPLOIT"}},
	ruleInjection:        {"injection-into-data-store", "network(A), a write (SQL/NoSQL injection) or read effect weakness on A, and A connects-to D", "read(D), and write(D) for a write effect", weaknessProbability, "T1190", nil},
	ruleSSRF:             {"server-side-request-forgery", "network(A) and an ssrf weakness on A", "network(B) for A connects-to or routes-to B; identity(R) for A uses-identity R when A is labelled imds.v1=true or the relation's action is imds.v1 (× 0.9)", weaknessProbability, "T1190", []string{"EC2 instance metadata (IMDSv1) credential theft (T1552.005)"}},
	ruleFileRead:         {"file-read", "network(A) and a file-read weakness (path traversal, file disclosure) on A", "read(S) for every S that A mounts", weaknessProbability, "T1552.001", nil},
	ruleWorkloadIdentity: {"workload-identity", "exec(A) and A uses-identity I", "identity(I)", constant(pCertain), "T1528", []string{"IDENTITY_ASSUME"}},
	ruleSecretsInReach:   {"secrets-in-reach", "exec(A) and A mounts or reads-env S", "read(S)", constant(pCertain), "T1552.001", []string{"VOLUME_DISCOVER"}},
	ruleLateral:          {"lateral-movement", "exec(A) and A connects-to or routes-to B (the estate emits connects-to only where no network policy stops it)", "network(B)", constant(pCertain), "T1210", nil},
	ruleEscape:           {"escape", "exec(A), A runs-on N, and A has an escape.* label set to true (0.95) or an escape-effect weakness (its own probability)", "exec(N)", constant(pNearCertain), "T1611", []string{"CE_PRIV_MOUNT", "CE_NSENTER", "CE_SYS_PTRACE", "CE_MODULE_LOAD", "CE_UMH_CORE_PATTERN", "EXPLOIT_HOST_WRITE", "EXPLOIT_CONTAINERD_SOCK"}},
	rulePermission:       {"permission", "identity(I) and I —can(action)→ R; on a Kubernetes namespace or cluster, secret actions also reach every secret in it; AWS grants on the account give only admin(account), for * (× 0.5 under conditions the analysis cannot decide; those that stop the caller remove the step)", "read(R) for get/list/watch and AWS List/Read actions of the catalogue; write(R) for create/update/patch/delete and Write/Tagging actions; admin(R) for * and AWS Permissions management actions and service:* (Kubernetes bind, escalate and impersonate have rules of their own)", constant(pCertain), "T1078.004", []string{"PMapper: identity-policy authorization", "TOKEN_LIST"}},
	ruleLeakedCredential: {"leaked-credential", "read(S) or admin(S) (or exec(S) for a function, host or workload holding it in its environment or user data), and S —grants→ I (0.95), or a credential weakness on S whose Grants names I", "identity(I); read(D) and write(D) for a database password; exec(H) for a host's SSH private key (× 0.5 unless the internet reaches its tcp/22)", constant(pNearCertain), "T1552", []string{"AWS access keys, database passwords and SSH private keys in Lambda/CodeBuild/ECS environments, EC2 user data, SSM parameters, secrets, S3 objects", "TOKEN_LIST", "TOKEN_STEAL"}},
	ruleSupplyChain:      {"supply-chain", "write(X) or admin(X) on a repository, image or pipeline X", "exec(W) for every W that runs an image built-from X, runs X, is built-from X (a function, a build project), or that X deploys", constant(pSupplyChain), "T1195.002", nil},
	ruleOpenDataStore:    {"open-data-store", "network(D) and D labelled public=true (0.95), or an exposure-effect weakness on D, or a read/write-effect weakness on a datastore D", "read(D), and write(D) for a write effect", weaknessProbability, "T1530", nil},
	ruleRouting:          {"routing", "network(A) and A routes-to or exposes B (a load balancer, ingress or service forwards traffic)", "network(B)", constant(pCertain), "", nil},
	ruleMembership:       {"membership", "identity(I) and I member-of G", "identity(G)", constant(pCertain), "T1078", nil},
	ruleAuthBypass:       {"authentication-bypass", "network(A) and an auth-bypass weakness on A", "admin(A)", weaknessProbability, "T1190", nil},
	ruleLocalPrivEsc:     {"local-privilege-escalation", "exec(A) and a privesc weakness on A", "admin(A)", weaknessProbability, "T1068", nil},
	ruleNodeTakeover:     {"node-takeover", "exec(N) on a Kubernetes node N and W runs-on N", "exec(W): root on a node runs code in its containers and holds their tokens and volumes (× 0.5 from the node any of manifests, but for DaemonSets)", constant(pCertain), "T1609", []string{"CONTAINER_ATTACH", "VOLUME_ACCESS", "TOKEN_STEAL"}},
	ruleHostRead:         {"host-read", "read(N) on a node N (a pod mounts a sensitive host folder read-only: /, /etc, /var/lib/kubelet, /proc; or /var/log writable), and W runs-on N", "identity(S) for W uses-identity S; read(X) for the secrets W mounts", constant(pNearCertain), "T1552.001", []string{"EXPLOIT_HOST_READ", "EXPLOIT_HOST_TRAVERSE", "CE_VAR_LOG_SYMLINK"}},
	ruleHostNetwork:      {"host-network", "exec(W), W labelled k8s.host-network=true and W runs-on N", "network(N); identity(I) for N uses-identity I through the node's metadata service (× 0.9)", constant(pCertain), "T1552.005", nil},
	ruleNamespaceAdmin:   {"namespace-admin", "admin(NS) on a Kubernetes namespace or cluster", "read(S) for its secrets, identity(A) for its service accounts, exec(W) for its workloads", constant(pCertain), "T1078.001", nil},
	rulePodExec:          {"pod-exec", "identity(I) and I can create (or get) pods/exec or pods/attach, or patch or update pods or a workload resource, on a namespace or the cluster", "exec(W) for the workloads of the scope (of that resource's kind)", constant(pNearCertain), "T1609", []string{"POD_EXEC", "POD_ATTACH", "POD_PATCH"}},
	rulePodCreate:        {"pod-create", "identity(I) and I can create pods or a workload resource on a namespace or the cluster", "identity(A) for every service account of the scope (a pod mounts it); exec(N) for the cluster's nodes unless the namespace's Pod Security Admission enforces baseline or restricted (a privileged pod)", constant(pNearCertain), "T1610", []string{"POD_CREATE"}},
	ruleImpersonate:      {"impersonation", "identity(I) and I can impersonate, on an identity or on a namespace or the cluster", "identity of that identity, or of every service account, user and group of the scope", constant(pNearCertain), "T1078", []string{"IDENTITY_IMPERSONATE"}},
	ruleRoleBind:         {"role-bind", "identity(I) and I can bind or escalate roles, and create role bindings, on a namespace or the cluster", "admin(the namespace or cluster): any role can be bound to I", constant(pNearCertain), "T1098.006", []string{"ROLE_BIND"}},
	ruleNodeProxy:        {"node-proxy", "identity(I) and I can get or create nodes/proxy on the cluster", "exec(N) for every node: the kubelet API runs commands in its pods", constant(pNearCertain), "T1609", nil},
	ruleCloudIdentity:    {"cloud-identity", "identity(A) on a Kubernetes service account and A uses-identity R (IRSA's eks.amazonaws.com/role-arn, GKE's iam.gke.io/gcp-service-account, Azure's azure.workload.identity/client-id)", "identity(R): the account's token is exchanged for the cloud identity's credentials", constant(pNearCertain), "T1550.001", nil},
	ruleTokenRequest:     {"token-request", "identity(I) and I can create serviceaccounts/token on a service account, namespace or the cluster", "identity(A) for the service accounts of the scope", constant(pCertain), "T1528", nil},
	ruleAWSAssumeRole: {"aws-assume-role", "identity(P) and role R's trust policy names P (R —trusts→ P, sts:AssumeRole*), or names P's account or anyone and P —can(sts:AssumeRole)→ R; conditions evaluated for P (iam.Decide): none if they stop P, × 0.5 if undecidable", "identity(R)", constant(pNearCertain), "T1548.005",
		[]string{"PMapper: sts:AssumeRole (trust policy and identity policy)", "iam-vulnerable: AssumeRole"}},
	ruleAWSPassRole: {"aws-passrole-service", "identity(P), P —can(iam:PassRole)→ R, R trusts the service, and P may make the service run code as R (see passLaunches)", "identity(R)", constant(pNearCertain), "T1548.005",
		[]string{"Rhino: CreateEC2WithExistingInstanceProfile (iam:PassRole+ec2:RunInstances)", "Rhino: PassExistingRoleToNewLambdaThenInvoke (iam:PassRole+lambda:CreateFunction+lambda:InvokeFunction)",
			"Rhino: PassExistingRoleToNewLambdaThenTriggerWithNewDynamo (lambda:CreateEventSourceMapping)", "Rhino: PassExistingRoleToNewGlueDevEndpoint (glue:CreateDevEndpoint)",
			"Rhino: PassExistingRoleToCloudFormation (cloudformation:CreateStack)", "Rhino: PassExistingRoleToNewDataPipeline (datapipeline:CreatePipeline+PutPipelineDefinition)",
			"PMapper: iam:PassRole+ec2:RunInstances", "PMapper: iam:PassRole+lambda:CreateFunction", "PMapper: iam:PassRole+cloudformation:CreateStack",
			"PMapper: iam:PassRole+codebuild:CreateProject+StartBuild", "PMapper: iam:PassRole+sagemaker:CreateNotebookInstance/CreateTrainingJob/CreateProcessingJob",
			"PMapper: iam:PassRole+autoscaling:CreateAutoScalingGroup", "iam-vulnerable: codeBuildCreateProjectPassRole, sageMakerCreateNotebookPassRole, sageMakerCreateTrainingJobPassRole, sageMakerCreateProcessingJobPassRole",
			"ECS: iam:PassRole+ecs:RegisterTaskDefinition+RunTask", "Glue: iam:PassRole+glue:CreateJob+StartJobRun"}},
	ruleAWSCredentials: {"aws-user-credentials", "identity(P) and P —can(iam:CreateAccessKey, CreateLoginProfile or UpdateLoginProfile)→ user U", "identity(U)", constant(pNearCertain), "T1098.001",
		[]string{"Rhino: CreateAccessKey", "Rhino: CreateLoginProfile", "Rhino: UpdateLoginProfile", "PMapper: iam:CreateAccessKey, iam:CreateLoginProfile, iam:UpdateLoginProfile"}},
	ruleAWSTrustRewrite: {"aws-trust-rewrite", "identity(P) and P —can(iam:UpdateAssumeRolePolicy)→ role R", "identity(R)", constant(pNearCertain), "T1098.003",
		[]string{"Rhino: UpdatingAssumeRolePolicy", "PMapper: iam:UpdateAssumeRolePolicy"}},
	ruleAWSGroupJoin: {"aws-add-user-to-group", "identity(P) and P —can(iam:AddUserToGroup)→ group G", "identity(G)", constant(pNearCertain), "T1098.003",
		[]string{"Rhino: AddUserToGroup", "PMapper: iam:AddUserToGroup"}},
	ruleAWSPolicyRewrite: {"aws-policy-rewrite", "identity(P) and P may rewrite its own permissions: Put/Attach User/Role/Group Policy on itself, a group it is in or a role that trusts it; CreatePolicyVersion on a customer policy attached to one of them; SetDefaultPolicyVersion when the policy has another version (× 0.5: the other version's content is unknown)", "admin(the account)", constant(pNearCertain), "T1098.003",
		[]string{"Rhino: CreateNewPolicyVersion", "Rhino: SetExistingDefaultPolicyVersion", "Rhino: AttachUserPolicy", "Rhino: AttachGroupPolicy", "Rhino: AttachRolePolicy",
			"Rhino: PutUserPolicy", "Rhino: PutGroupPolicy", "Rhino: PutRolePolicy", "PMapper: self-escalation (iam:Put*Policy, iam:Attach*Policy, iam:CreatePolicyVersion)"}},
	ruleAWSInstanceProfile: {"aws-instance-profile", "identity(P), P —can(iam:PassRole)→ R trusting ec2.amazonaws.com, and iam:AddRoleToInstanceProfile with a launch or an association, or ec2:Associate/ReplaceIamInstanceProfile(Association) on an instance P runs commands on", "identity(R)", constant(pNearCertain), "T1548.005",
		[]string{"Rhino: AddRoleToInstanceProfile (with iam:PassRole)", "PMapper: ec2:AssociateIamInstanceProfile with iam:PassRole"}},
	ruleAWSComputeTakeover: {"aws-compute-takeover", "identity(P) and P may run its code in existing compute C: lambda:UpdateFunctionCode/UpdateFunctionConfiguration, ssm:SendCommand/StartSession, ec2-instance-connect:SendSSHPublicKey, glue:UpdateDevEndpoint, glue:UpdateJob+StartJobRun, codebuild:StartBuild/StartBuildBatch/UpdateProject, sagemaker:CreatePresignedNotebookInstanceUrl, cloudformation:UpdateStack or CreateChangeSet+ExecuteChangeSet, ecs:ExecuteCommand, ecs:UpdateService+RegisterTaskDefinition, ecs:RunTask/StartTask", "exec(C), then its role by workload-identity", constant(pNearCertain), "T1651",
		[]string{"Rhino: EditExistingLambdaFunctionWithRole (lambda:UpdateFunctionCode)", "Rhino: UpdateExistingGlueDevEndpoint", "PMapper: ssm:SendCommand, ssm:StartSession",
			"iam-vulnerable: ssmSendCommand, ssmStartSession, ec2InstanceConnect, CloudFormationUpdateStack, sageMakerCreatePresignedNotebookURL", "CodeBuild: StartBuild with buildspecOverride", "ECS: ExecuteCommand, UpdateService"}},
	ruleAWSDatabase: {"aws-database-takeover", "identity(P) and P —can(rds:ModifyDBInstance/ModifyDBCluster)→ D (master password reset), or rds:CreateDBSnapshot on D with RestoreDBInstanceFromDBSnapshot or ModifyDBSnapshotAttribute", "read(D), and write(D) by a password reset", constant(pNearCertain), "T1578.001",
		[]string{"RDS: ModifyDBInstance master password reset", "RDS: CreateDBSnapshot+RestoreDBInstanceFromDBSnapshot", "RDS: CreateDBSnapshot+ModifyDBSnapshotAttribute (share)"}},
	ruleAWSAccountAdmin: {"aws-account-admin", "admin(the AWS account) (a grant of * on *) and the account contains R", "admin(R), and identity(R) for principals", constant(pCertain), "T1078.004",
		[]string{"AdministratorAccess"}},
	ruleAWSCollection: {"aws-every-resource-of-a-type", "read, write or admin of every resource of a type in an account (a grant alike on all of them: one relation instead of one per resource) and it contains R", "the same capability on R", constant(pCertain), "T1078.004",
		[]string{"AWS policy evaluation (Resource \"*\")"}},
}

// RuleNames returns the names of the rules in table order.
func RuleNames() []string {
	out := make([]string, numRules)
	for i, r := range Rules {
		out[i] = r.Name
	}
	return out
}

// permissionCap maps the action of a can relation to the capability it
// gives on its target. ok is false for actions that give none by
// themselves (sts:AssumeRole and iam:PassRole act through escalations).
//
// Kubernetes actions are "verb resource" or a bare verb: get, list and
// watch read; create, update, patch, delete and deletecollection write;
// "*", bind, escalate and impersonate administer. AWS actions are
// "service:Action" with wildcards, and " if " conditions after them: "*",
// "*:*", "iam:*" and "service:*" administer; a catalogue action gives
// what its access level says (List and Read read when the action returns
// data, iam.DataRead, and give nothing otherwise; Write and Tagging
// actions write when they change what the resource holds, iam.Changes;
// Permissions management administers); an action the catalogue
// does not know reads when it begins Get, List, Describe, Head, Scan,
// Query, BatchGet, Select, Download or Read, else writes. Source-platform roles
// read/pull/clone, write/push/maintain and admin/owner map likewise.
func permissionCap(action string) (Capability, bool) {
	a := strings.TrimSpace(action)
	if a == "*" || a == "*:*" {
		return Admin, true
	}
	if svc, act, ok := strings.Cut(a, ":"); ok && !strings.ContainsAny(svc, " /") {
		act, _ = splitCond(act)
		svc = strings.ToLower(svc)
		lact := strings.ToLower(act)
		switch {
		case act == "*" || act == "":
			return Admin, true
		case svc == "sts" && strings.HasPrefix(lact, "assumerole"), svc == "iam" && lact == "passrole":
			return 0, false
		}
		c := iam.Default()
		if id, ok := c.Lookup(svc + ":" + act); ok {
			switch c.Level(id) {
			case iam.LevelList, iam.LevelRead:
				// Only actions that return the data read it; the
				// others read configuration.
				return Read, iam.DataRead(c.Name(id))
			case iam.LevelPermissions:
				return Admin, true
			}
			return Write, iam.Changes(c.Name(id))
		}
		for _, p := range []string{"get", "list", "describe", "head", "scan", "query", "batchget", "select", "download", "read"} {
			if strings.HasPrefix(lact, p) {
				return Read, true
			}
		}
		return Write, true
	}
	verb, _, _ := strings.Cut(a, " ")
	switch strings.ToLower(verb) {
	case "get", "list", "watch", "read", "pull", "clone":
		return Read, true
	case "create", "update", "patch", "delete", "deletecollection", "write", "push", "maintain":
		return Write, true
	case "*", "admin", "owner":
		return Admin, true
	}
	return 0, false
}

// k8sResource returns the resource of a Kubernetes action ("get secrets"
// → "secrets"), "*" for a bare "*" and "" for bare verbs.
func k8sResource(action string) string {
	if action == "*" {
		return "*"
	}
	_, res, _ := strings.Cut(action, " ")
	return res
}

var (
	// k8sPodCreators: creating any of these runs a pod that mounts any
	// service account of its namespace.
	k8sPodCreators = map[string]bool{
		"pods": true, "deployments": true, "daemonsets": true, "statefulsets": true, "replicasets": true,
		"jobs": true, "cronjobs": true, "replicationcontrollers": true, "*": true,
	}
)

// Remediation action kinds.
const (
	ActUpgrade  = "upgrade"         // upgrade one package in one image or repository
	ActFix      = "fix"             // fix one code weakness or misconfiguration
	ActRotate   = "rotate"          // rotate one secret and remove it from where it leaked
	ActRemove   = "remove-relation" // close one rule, remove one exposure, permission or binding
	ActHarden   = "harden"          // drop a privileged setting, enforce IMDSv2, make a store private
	structural  = math.MaxFloat64   // effort of a fact no action removes
	effortUnits = 1000              // efforts are scaled to integers for the cut
)

// Effort of remediation actions, in rough person-hours of a routine
// change. Upgrading one package, fixing a misconfiguration, rotating a
// secret, dropping a permission and hardening a workload are one change
// each: 1. A code fix needs a developer and a review: 2. Closing an
// exposure (a public service stays public for a reason) or adding a
// network policy (the traffic must be known first): 2. Taking an
// identity or a secret away from a workload that uses it is a redesign:
// 3. Relations that are the estate's structure (runs, built-from,
// runs-on, contains, deploys, routes-to) are not actions: no fix removes
// them, they weigh +∞ in the cut.
func relationEffort(t model.RelationType, fromInternet bool) float64 {
	switch t {
	case model.RelCan, model.RelMemberOf, RelTrusts, RelGrants:
		return 1
	case model.RelConnectsTo:
		return 2
	case model.RelExposes:
		return 2
	case model.RelUsesIdentit, model.RelMounts, model.RelReadsEnv:
		return 3
	}
	if fromInternet {
		return 2
	}
	return structural
}

// DefaultAction returns the remediation action of a weakness that names
// none: upgrading its package on its asset (every CVE of one package
// version on one image shares it, effort 1), rotating a secret (1),
// fixing a misconfiguration (1) or fixing the code (2).
func DefaultAction(w *Weakness) (key, kind, title string, effort float64) {
	e := &w.Exposure
	key = defaultKey(e)
	switch {
	case e.Kind == model.FindingSecret:
		return key, ActRotate, "rotate the secret " + ruleOr(e) + " found in " + e.Asset, 1
	case e.Package.Name != "":
		t := "upgrade " + e.Package.Name + " " + e.Package.Version
		if e.Package.FixedVersion != "" {
			t += " to " + e.Package.FixedVersion
		}
		return key, ActUpgrade, t + " in " + e.Asset, 1
	case e.Kind == model.FindingMisconfig:
		return key, ActFix, "fix " + ruleOr(e) + " on " + e.Asset, 1
	}
	return key, ActFix, "fix " + ruleOr(e) + " in " + e.Asset, 2
}

// defaultKey is the key of DefaultAction for exposure e.
func defaultKey(e *model.Exposure) string {
	switch {
	case e.Kind == model.FindingSecret:
		return "rotate|" + e.Asset + "|" + e.ID
	case e.Package.Name != "":
		return "upgrade|" + e.Asset + "|" + e.Package.Name + "@" + e.Package.Version
	case e.Kind == model.FindingMisconfig:
		return "fix|" + e.Asset + "|" + ruleOr(e)
	}
	return "fix|" + e.Asset + "|" + ruleOr(e) + "|" + e.Location.Path
}

// actionKey is the key of the action factAction gives weakness w: its own
// Action, else DefaultAction's, without the title and owner that only
// the actions a result names need.
func actionKey(w *Weakness) string {
	if w.Action != "" {
		return w.Action
	}
	return defaultKey(&w.Exposure)
}

func ruleOr(e *model.Exposure) string {
	if e.RuleID != "" {
		return e.RuleID
	}
	if len(e.VulnIDs) > 0 {
		return e.VulnIDs[0]
	}
	return e.ID
}

// isStrongEvidence reports whether an evidence kind validates a weakness
// step: exploitation seen (kev), the code reached (reachable-call,
// runtime-loaded) or the weakness confirmed (dast-confirmed,
// probe-confirmed).
func isStrongEvidence(k model.EvidenceKind) bool {
	switch k {
	case model.EvidenceKEV, model.EvidenceReachableCall, model.EvidenceDASTConfirmed, model.EvidenceProbeConfirmed, model.EvidenceRuntimeLoaded,
		model.EvidenceRuntimeExec:
		return true
	}
	return false
}

// ProbabilityModel says in words how the rule's step probability is
// found: a constant (a fact of the estate) or the weakness model of
// weaknessProbability (base by finding kind, raised by evidence, EPSS as
// a floor, KEV to at least 0.95, VEX not-affected to 0). It tells the two
// apart by evaluating the rule on two weaknesses whose models differ.
func (r Rule) ProbabilityModel() string {
	if r.Probability == nil {
		return ""
	}
	code := &Weakness{Exposure: model.Exposure{Kind: model.FindingCode}}
	kev := &Weakness{Exposure: model.Exposure{Kind: model.FindingVulnerability}, KEV: true}
	a, b := r.Probability(code), r.Probability(kev)
	if a == b {
		return "constant " + strconv.FormatFloat(a, 'f', -1, 64)
	}
	return "the weakness's: base by kind (CVE 0.3, code 0.4, DAST 0.8, misconfiguration or secret 0.95), raised by evidence, EPSS as a floor, KEV at least 0.95, VEX not-affected 0"
}
