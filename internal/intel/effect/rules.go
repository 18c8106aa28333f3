package effect

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"

	"github.com/ctem-dev/ctem/internal/model"
)

type ruleEntry struct {
	effect     Effect
	confidence Confidence
	why        string
}

// ruleTable maps scanner check ids to effects. Keys are normalized by
// normRule: upper case, "AVD-" dropped, and Trivy-style ids reduced to
// prefix and number ("AVD-KSV-0017", "KSV-0017" and "KSV017" are all
// "KSV17"). Checks that only harden (resource limits, logging,
// encryption at rest) are InfoOnly.
var ruleTable = map[string]ruleEntry{
	// Public buckets and data stores.
	"CKV_AWS_20":                           {Read, High, "S3 bucket ACL grants READ to everyone: a public bucket"},
	"CKV_AWS_57":                           {Write, High, "S3 bucket ACL grants WRITE to everyone"},
	"CKV_AWS_53":                           {Read, Low, "S3 block public ACLs is off: the bucket can be made public"},
	"CKV_AWS_54":                           {Read, Low, "S3 block public policy is off: the bucket can be made public"},
	"CKV_AWS_55":                           {Read, Low, "S3 ignore public ACLs is off: the bucket can be made public"},
	"CKV_AWS_56":                           {Read, Low, "S3 restrict public buckets is off: the bucket can be made public"},
	"AWS-S3-NO-PUBLIC-ACCESS-WITH-ACL":     {Read, High, "S3 bucket ACL grants public access"},
	"AWS-S3-BLOCK-PUBLIC-ACLS":             {Read, Low, "S3 block public ACLs is off"},
	"AWS-S3-BLOCK-PUBLIC-POLICY":           {Read, Low, "S3 block public policy is off"},
	"AWS-S3-IGNORE-PUBLIC-ACLS":            {Read, Low, "S3 ignore public ACLs is off"},
	"AWS-S3-NO-PUBLIC-BUCKETS":             {Read, Low, "S3 restrict public buckets is off"},
	"AWS92":                                {Read, High, "S3 bucket publicly accessible through its ACL (Trivy AVD-AWS-0092)"},
	"1DF37F4B-7197-45CE-83F8-9994D2FCF885": {Read, High, "S3 bucket allows Get from all principals (KICS)"},
	"7AF43613-6BB9-4A0E-8C4D-1314B799425E": {Read, High, "S3 bucket access to any principal (KICS)"},
	"42BB6B7F-6D54-4428-B707-666F669D94FB": {Exposure, Low, "S3 static website hosting (KICS)"},

	// Network exposure: entry states, not steps.
	"CKV_AWS_24":                               {Exposure, High, "security group allows 0.0.0.0/0 to port 22"},
	"CKV_AWS_25":                               {Exposure, High, "security group allows 0.0.0.0/0 to port 3389"},
	"CKV_AWS_260":                              {Exposure, High, "security group allows 0.0.0.0/0 to port 80"},
	"CKV_AWS_88":                               {Exposure, Medium, "EC2 instance has a public IP"},
	"CKV_AWS_17":                               {Exposure, High, "RDS instance is publicly accessible"},
	"AWS-VPC-NO-PUBLIC-INGRESS-SGR":            {Exposure, High, "security group ingress from 0.0.0.0/0"},
	"AWS-EC2-NO-PUBLIC-INGRESS-SGR":            {Exposure, High, "security group ingress from 0.0.0.0/0"},
	"AWS-VPC-NO-PUBLIC-INGRESS-ACL":            {Exposure, Medium, "network ACL ingress from 0.0.0.0/0"},
	"AWS-EC2-NO-PUBLIC-INGRESS-ACL":            {Exposure, Medium, "network ACL ingress from 0.0.0.0/0"},
	"AWS-VPC-NO-EXCESSIVE-PORT-ACCESS":         {Exposure, Medium, "network ACL allows all ports"},
	"AWS-AUTOSCALING-NO-PUBLIC-IP":             {Exposure, Medium, "launch configuration gives a public IP"},
	"AWS-EC2-NO-PUBLIC-IP":                     {Exposure, Medium, "instance has a public IP"},
	"AWS-EKS-NO-PUBLIC-CLUSTER-ACCESS":         {Exposure, High, "EKS control plane is public"},
	"AWS-EKS-NO-PUBLIC-CLUSTER-ACCESS-TO-CIDR": {Exposure, High, "EKS control plane open to 0.0.0.0/0"},
	"AWS-RDS-NO-PUBLIC-DB-ACCESS":              {Exposure, High, "RDS instance is publicly accessible"},
	"AWS107":                                   {Exposure, High, "security group ingress from 0.0.0.0/0 (Trivy AVD-AWS-0107)"},

	// Identity: wildcard and administrative policies, broad trust.
	"CKV_AWS_1":                            {PrivEsc, High, `IAM policy document grants "*:*" administrative privileges`},
	"CKV_AWS_62":                           {PrivEsc, High, `IAM policy grants "*:*" administrative privileges`},
	"CKV_AWS_63":                           {PrivEsc, Medium, `IAM policy allows "*" as actions`},
	"CKV_AWS_60":                           {PrivEsc, Medium, "IAM role may be assumed by any service or principal"},
	"CKV_AWS_61":                           {PrivEsc, Medium, "IAM role may be assumed by any principal of the account"},
	"AWS-IAM-NO-POLICY-WILDCARDS":          {PrivEsc, Medium, "IAM policy uses wildcards"},
	"AWS57":                                {PrivEsc, Medium, "IAM policy uses wildcards (Trivy AVD-AWS-0057)"},
	"6B896AFB-CA07-467A-B256-1A0077A1C08E": {PrivEsc, Medium, "RBAC rule uses wildcards (KICS)"},
	"592AD21D-AD9B-46C6-8D2D-FAD09D62A942": {PrivEsc, Medium, "RBAC allows creating pods, a known escalation (KICS)"},

	// Instance metadata: an SSRF on the instance reaches its role.
	"CKV_AWS_79":                      {Credential, Low, "IMDSv1 enabled: an SSRF on the instance reads its role credentials"},
	"AWS-EC2-ENFORCE-HTTP-TOKEN-IMDS": {Credential, Low, "IMDSv1 enabled: an SSRF on the instance reads its role credentials"},
	"AWS28":                           {Credential, Low, "IMDSv1 enabled (Trivy AVD-AWS-0028)"},

	// Secrets in infrastructure code.
	"CKV_AWS_46":                            {Credential, High, "hard-coded secret in EC2 user data"},
	"GEN3":                                  {Credential, Medium, "sensitive data in a block attribute"},
	"GENERAL-SECRETS-NO-PLAINTEXT-EXPOSURE": {Credential, Medium, "sensitive data in plain text"},
	"F996F3CB-00FC-480C-8973-8AB04D44A8CC":  {Credential, High, "passwords and secrets in infrastructure code (KICS)"},
	"48471392-D4D0-47C0-B135-CDEC95EB3EEF":  {Credential, Low, "service account token automounted (KICS)"},

	// Containers: privileged, host namespaces, host mounts.
	"CKV_K8S_16": {Escape, High, "privileged container"},
	"CKV_K8S_17": {Escape, Medium, "container shares the host PID namespace"},
	"CKV_K8S_18": {Escape, Low, "container shares the host IPC namespace"},
	"CKV_K8S_19": {Escape, Low, "container shares the host network namespace"},
	"CKV_K8S_20": {PrivEsc, Medium, "container allows privilege escalation"},
	"CKV_K8S_27": {Escape, High, "Docker daemon socket mounted into the container"},
	"CKV_K8S_39": {Escape, Medium, "container has CAP_SYS_ADMIN"},
	"KSV1":       {PrivEsc, Medium, "container can elevate its own privileges (Trivy KSV001)"},
	"KSV5":       {Escape, Medium, "container has CAP_SYS_ADMIN (Trivy KSV005)"},
	"KSV6":       {Escape, High, "Docker socket mounted (Trivy KSV006)"},
	"KSV8":       {Escape, Low, "host IPC namespace shared (Trivy KSV008)"},
	"KSV9":       {Escape, Low, "host network namespace shared (Trivy KSV009)"},
	"KSV10":      {Escape, Medium, "host PID namespace shared (Trivy KSV010)"},
	"KSV17":      {Escape, High, "privileged container (Trivy KSV017)"},
	"KSV22":      {Escape, Low, "non-default capabilities added (Trivy KSV022)"},
	"KSV23":      {Escape, Medium, "hostPath volume mounted (Trivy KSV023)"},

	// Hardening only.
	"KSV3":         {InfoOnly, Low, "default capabilities not dropped"},
	"KSV11":        {InfoOnly, Low, "CPU not limited"},
	"KSV12":        {InfoOnly, Low, "runs as root"},
	"KSV13":        {InfoOnly, Low, `image tag ":latest"`},
	"KSV14":        {InfoOnly, Low, "root file system is writable"},
	"KSV15":        {InfoOnly, Low, "CPU requests not set"},
	"KSV16":        {InfoOnly, Low, "memory requests not set"},
	"KSV18":        {InfoOnly, Low, "memory not limited"},
	"KSV20":        {InfoOnly, Low, "runs with a low UID"},
	"KSV21":        {InfoOnly, Low, "runs with a low GID"},
	"KSV30":        {InfoOnly, Low, "seccomp profile not set"},
	"KSV104":       {InfoOnly, Low, "seccomp disabled"},
	"KSV106":       {InfoOnly, Low, "capabilities beyond NET_BIND_SERVICE"},
	"KSV110":       {InfoOnly, Low, "workload in the default namespace"},
	"KSV116":       {InfoOnly, Low, "root group"},
	"KSV117":       {InfoOnly, Low, "binds privileged ports"},
	"DS2":          {InfoOnly, Low, "image user is root"},
	"CKV_DOCKER_2": {InfoOnly, Low, "no HEALTHCHECK"},
	"CKV_DOCKER_3": {InfoOnly, Low, "no non-root user"},
	"CKV_DOCKER_7": {InfoOnly, Low, "base image uses latest"},
	"CKV_AWS_23":   {InfoOnly, Low, "security group rule without description"},
}

var trivyIDRE = regexp.MustCompile(`^([A-Z]+)-?0*([0-9]+)$`)

// normRule normalizes a rule id for ruleTable.
func normRule(id string) string {
	id = strings.ToUpper(strings.TrimSpace(id))
	id = strings.TrimPrefix(id, "AVD-")
	if m := trivyIDRE.FindStringSubmatch(id); m != nil && !strings.HasPrefix(id, "CKV") {
		return m[1] + m[2]
	}
	return id
}

func byRule(id string) (Result, bool) {
	if id == "" {
		return Result{}, false
	}
	e, ok := ruleTable[normRule(id)]
	if !ok {
		return Result{}, false
	}
	return Result{e.effect, e.confidence, fmt.Sprintf("rule %s: %s", id, e.why)}, true
}

// wordRule maps a phrase in a title or tag to an effect.
type wordRule struct {
	re         *regexp.Regexp
	effect     Effect
	confidence Confidence
	why        string
}

// wordRules are phrases of titles and tags, matched without case on word
// boundaries. They are weaker than ids, hence at most medium confidence.
var wordRules = []wordRule{
	{regexp.MustCompile(`(?i)\b(remote code execution|rce|arbitrary code|code execution|command injection|code injection|os command|shell injection|template injection)\b`), Exec, Medium, "names code execution"},
	{regexp.MustCompile(`(?i)\b(deserializ\w*|unsafe yaml load|pickle)\b`), Exec, Low, "names unsafe deserialization"},
	{regexp.MustCompile(`(?i)\b(container escape|privileged|hostpath|host path|docker\.sock|docker socket|hostpid|host pid|sys_admin)\b`), Escape, Medium, "names a privileged container or host access"},
	{regexp.MustCompile(`(?i)\b(privilege escalation|escalate privileges|elevate\w* (its own )?privileges|allowprivilegeescalation)\b`), PrivEsc, Medium, "names privilege escalation"},
	{regexp.MustCompile(`(?i)(\*:\*|\*-\*|\bwildcard\b|\badministrative privileges\b|\bfull admin\w*\b|\bcluster-admin\b)`), PrivEsc, Low, "names wildcard or administrative permissions"},
	{regexp.MustCompile(`(?i)\b(hard-?coded (password|secret|credential|key)s?|secrets? in|passwords? in|private key|api key|access key|aws secret)\b`), Credential, Medium, "names exposed credentials"},
	{regexp.MustCompile(`(?i)\b(authentication bypass|auth bypass|bypass authentication|unauthenticated access|missing authentication|broken access control|idor)\b`), AuthBypass, Medium, "names an authentication or authorization bypass"},
	{regexp.MustCompile(`(?i)\b(sql injection|sqli|nosql injection)\b`), Write, Medium, "names SQL injection"},
	{regexp.MustCompile(`(?i)\b(server-side request forgery|ssrf)\b`), SSRF, Medium, "names server-side request forgery"},
	{regexp.MustCompile(`(?i)\b(path traversal|directory traversal|local file inclusion|lfi|arbitrary file read|xxe|xml external entit\w*)\b`), FileRead, Medium, "names a file read"},
	{regexp.MustCompile(`(?i)(\b(public read|publicly readable|allusers|all users|any principal|all principals|public bucket|public access)\b)`), Read, Medium, "names public read access"},
	{regexp.MustCompile(`(?i)(0\.0\.0\.0/0|0\.0\.0\.0:0|::/0|\bpublicly accessible\b|\bpublic ip\b|\bopen to the internet\b|\bfrom /0\b)`), Exposure, Medium, "names exposure to the internet"},
	{regexp.MustCompile(`(?i)\b(cross-site scripting|xss)\b`), Credential, Low, "names cross-site scripting"},
	{regexp.MustCompile(`(?i)\b(information disclosure|information exposure|sensitive data exposure)\b`), Read, Low, "names information disclosure"},
	{regexp.MustCompile(`(?i)\b(denial of service|dos|redos|resource exhaustion|crash)\b`), DoSOnly, Medium, "names denial of service"},
	{regexp.MustCompile(`(?i)\b(open redirect)\b`), InfoOnly, Medium, "names an open redirect"},
}

// wordNeedles holds, for each of wordRules, lower-case strings one of
// which a text must contain for the rule to match: the literal start of
// each alternative of its phrase. Most titles name none of the phrases,
// and a substring search is far cheaper than sixteen case-insensitive
// expressions (an analysis of a million exposures spent 45 s in them). A
// rule whose alternatives do not all start with a literal has no needles
// and always runs.
var wordNeedles = func() [][]string {
	out := make([][]string, len(wordRules))
	for i, w := range wordRules {
		out[i] = needles(w.re.String())
	}
	return out
}()

// needles returns lower-case strings one of which starts every match of
// pattern, or nil when it has none.
func needles(pattern string) []string {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil
	}
	ps, _ := prefixes(re)
	if slices.Contains(ps, "") {
		return nil
	}
	return ps
}

// prefixes returns the literal strings one of which starts every match of
// r (nil when there are none), and whether they are whole matches, so
// that what follows r in a concatenation extends them.
func prefixes(r *syntax.Regexp) ([]string, bool) {
	switch r.Op {
	case syntax.OpLiteral:
		return []string{strings.ToLower(string(r.Rune))}, true
	case syntax.OpCapture:
		return prefixes(r.Sub[0])
	case syntax.OpWordBoundary, syntax.OpEmptyMatch:
		return []string{""}, true
	case syntax.OpAlternate:
		var out []string
		whole := true
		for _, sub := range r.Sub {
			ps, w := prefixes(sub)
			if ps == nil {
				return nil, false
			}
			out = append(out, ps...)
			whole = whole && w
		}
		return out, whole
	case syntax.OpConcat:
		out := []string{""}
		for _, sub := range r.Sub {
			ps, w := prefixes(sub)
			if ps == nil {
				return out, false
			}
			var next []string
			for _, a := range out {
				for _, b := range ps {
					next = append(next, a+b)
				}
			}
			if len(next) > 64 {
				return out, false
			}
			out = next
			if !w {
				return out, false
			}
		}
		return out, true
	}
	return nil, false
}

// mayMatch reports whether rule i can match lower, a lower-cased text.
func mayMatch(i int, lower string) bool {
	if wordNeedles[i] == nil {
		return true
	}
	for _, n := range wordNeedles[i] {
		if strings.Contains(lower, n) {
			return true
		}
	}
	return false
}

func byWords(kind model.FindingKind, tags []string, title string) (Result, bool) {
	var best Result
	found := false
	try := func(where, text string) {
		lower := strings.ToLower(text)
		for i, w := range wordRules {
			if !mayMatch(i, lower) {
				continue
			}
			if m := w.re.FindString(text); m != "" {
				r := Result{w.effect, w.confidence, fmt.Sprintf("%s %q %s", where, m, w.why)}
				if !found || better(r, best) {
					best, found = r, true
				}
			}
		}
	}
	for _, t := range tags {
		try("tag", t)
	}
	try("title", title)
	if !found && kind == model.FindingMisconfig {
		return Result{InfoOnly, Low, "a misconfiguration check with no known effect on an attack path: hardening"}, true
	}
	return best, found
}
