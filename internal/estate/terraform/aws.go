package terraform

import (
	"context"
	"maps"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/intel/iam"
	"github.com/ctem-dev/ctem/internal/model"
)

// kinds are the resource types that become assets.
var kinds = map[string]model.AssetKind{
	"aws_instance":              model.KindHost,
	"aws_security_group":        model.KindNetwork,
	"aws_lb":                    model.KindLoadBalancer,
	"aws_alb":                   model.KindLoadBalancer,
	"aws_lb_target_group":       model.KindResource,
	"aws_alb_target_group":      model.KindResource,
	"aws_s3_bucket":             model.KindDatastore,
	"aws_iam_user":              model.KindIdentity,
	"aws_iam_role":              model.KindIdentity,
	"aws_iam_group":             model.KindIdentity,
	"aws_iam_policy":            model.KindResource,
	"aws_lambda_function":       model.KindFunction,
	"aws_db_instance":           model.KindDatastore,
	"aws_rds_cluster":           model.KindDatastore,
	"aws_secretsmanager_secret": model.KindSecret,
	"aws_ecs_service":           model.KindWorkload,
	"aws_ecs_task_definition":   model.KindWorkload,
	"aws_codebuild_project":     model.KindWorkload,
	"aws_ssm_parameter":         model.KindSecret,
	"aws_dynamodb_table":        model.KindDatastore,
	"aws_glue_dev_endpoint":     model.KindWorkload,
	"aws_cloudformation_stack":  model.KindWorkload,
	"aws_iam_access_key":        model.KindSecret,
	"aws_iam_instance_profile":  model.KindResource,

	"aws_sagemaker_notebook_instance": model.KindWorkload,
}

// nameAttrs are the attributes that name a resource, best first.
var nameAttrs = []string{"bucket", "function_name", "identifier", "cluster_identifier", "family", "name"}

// Label names set on assets.
const (
	LabelAddress        = "tf.address"
	LabelType           = "aws.type"
	LabelARN            = "aws.arn"
	LabelIMDSv1         = "imds.v1"              // "true" unless http_tokens is "required"
	LabelPublicIP       = "public_ip"            // "true" when the instance gets a public address
	LabelPublic         = "public"               // buckets and databases: "true" or "false"
	LabelInternetFacing = "internet_facing"      // load balancers
	LabelPlaintextEnv   = "plaintext_secret_env" // names of secret-looking plaintext variables
	LabelManaged        = "iam.managed_policies" // AWS managed policies attached, by ARN
	LabelTrustedService = "iam.trusted_services" // services the trust policy lets assume the role
	LabelSecretInTF     = "tf.secret_value"      // "true": the secret's value is in the configuration or state
	LabelTrustAnyone    = "iam.trust_anyone"     // "true": the trust policy lets any AWS principal assume the role
)

// builder collects the resources of one input and emits them once all are
// known, since relations need both ends.
type builder struct {
	opts           ingest.Options
	sink           ingest.Sink
	source, format string

	res    []*resource
	byBase map[string][]*resource
	index  map[string][]*resource // by id, arn, name, key

	assets    map[string]*model.Asset
	order     []string
	rels      []model.Relation
	seenRel   map[model.Relation]bool
	perms     map[string][]statement // identity key -> statements
	permOrder []string
	// account is the AWS account the HCL configuration fixes (see
	// module.accountID), "" when it does not; region likewise the
	// region of its aws providers (module.region).
	account, region string
	lbGroups        func(key string, values []string) []string // set by network
}

func newBuilder(opts ingest.Options, sink ingest.Sink, source, format string) *builder {
	return &builder{
		opts: opts, sink: sink, source: source, format: format,
		byBase: map[string][]*resource{}, index: map[string][]*resource{},
		assets: map[string]*model.Asset{}, seenRel: map[model.Relation]bool{},
		perms: map[string][]statement{},
	}
}

// add records one resource.
func (b *builder) add(r *resource) {
	if r.v == nil {
		r.v = map[string]any{}
	}
	if r.base == "" {
		r.base = baseAddress(r.addr)
	}
	if b.account != "" && !r.data && str(r.v["arn"]) == "" {
		// A resource of a known account (and region) and name: its
		// ARN, the key authorization details and cloud scanners give
		// it. IAM is global; the others need the region.
		arn := ""
		switch {
		case accountWide[r.typ]:
			arn = strings.Replace(iamNames[r.typ].arn(r), u, b.account, 1)
		case regional[r.typ] && b.region != "":
			arn = strings.Replace(strings.Replace(iamNames[r.typ].arn(r), u, b.region, 1), u, b.account, 1)
		}
		if arn != "" && !strings.Contains(arn, u) && !strings.Contains(arn, refMark) {
			r.v["arn"] = arn
		}
	}
	r.key = resourceKey(r.addr, str(r.v["arn"]))
	b.res = append(b.res, r)
	b.byBase[r.base] = append(b.byBase[r.base], r)
	for _, k := range []string{"id", "arn", "name", "bucket", "function_name", "identifier", "family"} {
		if s := str(r.v[k]); s != "" && !strings.Contains(s, refMark) {
			b.index[s] = appendNew(b.index[s], r)
		}
	}
}

// accountWide are the resource types whose ARN needs only the account
// and the resource's name (IAM is global: no region).
var accountWide = map[string]bool{
	"aws_iam_role": true, "aws_iam_user": true, "aws_iam_group": true, "aws_iam_policy": true, "aws_iam_instance_profile": true,
}

// regional are the resource types whose ARN needs the region and the
// account besides the resource's name: "arn:aws:SERVICE:REGION:ACCOUNT:…".
var regional = map[string]bool{
	"aws_lambda_function": true, "aws_db_instance": true, "aws_rds_cluster": true, "aws_codebuild_project": true,
	"aws_ssm_parameter": true, "aws_dynamodb_table": true, "aws_glue_dev_endpoint": true, "aws_sagemaker_notebook_instance": true,
}

func appendNew[T comparable](s []T, v T) []T {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// lookup resolves a value that names resources — a reference, an id, a
// name or an ARN — to the resources of the given types it names.
func (b *builder) lookup(v string, types ...string) []*resource {
	ok := func(r *resource) bool { return len(types) == 0 || slices.Contains(types, r.typ) }
	var out []*resource
	if addrs := refs(v); len(addrs) > 0 {
		for _, a := range addrs {
			for _, r := range b.byBase[a] {
				if ok(r) {
					out = appendNew(out, r)
				}
			}
		}
		return out
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	for _, r := range b.index[v] {
		if ok(r) {
			out = appendNew(out, r)
		}
	}
	if len(out) > 0 || !strings.HasPrefix(v, "arn:") {
		return out
	}
	// An ARN of a resource whose ARN is unknown: match by service and
	// name.
	service, name := arnName(v)
	for _, r := range b.index[name] {
		if ok(r) && serviceOf(r.typ) == service && str(r.v["arn"]) == "" {
			out = appendNew(out, r)
		}
	}
	return out
}

// arnName returns the service of an ARN and the name its resource part
// ends in: arn:aws:iam::1:role/path/app gives (iam, app);
// arn:aws:s3:::bucket/key gives (s3, bucket).
func arnName(arn string) (service, name string) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return "", ""
	}
	service, res := parts[2], parts[5]
	switch service {
	case "s3":
		name, _, _ = strings.Cut(res, "/")
	case "lambda", "secretsmanager":
		// function:name[:qualifier], secret:name-AbCdEf[:key...]
		f := strings.Split(res, ":")
		if len(f) >= 2 {
			name = f[1]
		}
		if service == "secretsmanager" {
			if i := strings.LastIndex(name, "-"); i > 0 && len(name)-i == 7 {
				name = name[:i]
			}
		}
	case "ecs":
		// task-definition/family:rev
		_, rest, _ := strings.Cut(res, "/")
		name, _, _ = strings.Cut(rest, ":")
	default:
		name = res[strings.LastIndexAny(res, "/:")+1:]
	}
	return service, name
}

// serviceOf is the ARN service of a resource type.
func serviceOf(typ string) string {
	switch {
	case strings.HasPrefix(typ, "aws_iam_"):
		return "iam"
	case strings.HasPrefix(typ, "aws_s3_"):
		return "s3"
	case strings.HasPrefix(typ, "aws_lambda_"):
		return "lambda"
	case strings.HasPrefix(typ, "aws_secretsmanager_"):
		return "secretsmanager"
	case strings.HasPrefix(typ, "aws_ecs_"):
		return "ecs"
	case strings.HasPrefix(typ, "aws_db_"), strings.HasPrefix(typ, "aws_rds_"):
		return "rds"
	case strings.HasPrefix(typ, "aws_lb"), strings.HasPrefix(typ, "aws_alb"):
		return "elasticloadbalancing"
	case strings.HasPrefix(typ, "aws_codebuild_"):
		return "codebuild"
	}
	return "ec2"
}

// keysOf resolves a value to the keys of the resources it names.
func (b *builder) keysOf(v string, types ...string) []string {
	var out []string
	for _, r := range b.lookup(v, types...) {
		out = appendNew(out, r.key)
	}
	return out
}

// asset returns the asset of key, creating it.
func (b *builder) asset(key string, kind model.AssetKind, name string) *model.Asset {
	if a, ok := b.assets[key]; ok {
		return a
	}
	a := &model.Asset{Key: key, Kind: kind, Name: name, Labels: map[string]string{}, Source: b.source}
	b.assets[key] = a
	b.order = append(b.order, key)
	return a
}

// rel records a relation once.
func (b *builder) rel(from, to string, typ model.RelationType, action string) {
	if from == "" || to == "" || from == to && typ != model.RelCan {
		return
	}
	r := model.Relation{From: from, To: to, Type: typ, Action: action, Source: b.source}
	if b.seenRel[r] {
		return
	}
	b.seenRel[r] = true
	b.rels = append(b.rels, r)
}

// emit computes the assets and relations and hands them to the sink.
func (b *builder) emit(ctx context.Context) error {
	target := b.opts.Target
	if target == "" {
		target = "default"
	}
	ws := WorkspaceKey(target)
	if err := b.sink.BeginScan(model.Scan{Tool: Tool, Format: b.format, Target: target, Asset: ws}); err != nil {
		return err
	}
	b.asset(ws, model.KindResource, target)
	for _, r := range b.res {
		if err := ctx.Err(); err != nil {
			return err
		}
		b.resourceAsset(r)
	}
	steps := []func(){b.network, b.loadBalancers, b.buckets, b.iam, b.compute, b.credentials, b.ecs, b.eks}
	for _, step := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		step()
	}
	b.permissions()
	// Assets named only by relations.
	for _, r := range b.rels {
		for _, k := range []string{r.From, r.To} {
			if _, ok := b.assets[k]; !ok {
				b.asset(k, kindOfKey(k), nameOfKey(k))
			}
		}
	}
	for _, k := range b.order {
		if err := ctx.Err(); err != nil {
			return err
		}
		a := b.assets[k]
		if len(a.Labels) == 0 {
			a.Labels = nil
		}
		if err := b.sink.Asset(*a); err != nil {
			return err
		}
	}
	for _, r := range b.rels {
		if err := b.sink.Relation(r); err != nil {
			return err
		}
	}
	return nil
}

// kindOfKey is the kind of an asset known only by its key.
func kindOfKey(k string) model.AssetKind {
	switch {
	case k == InternetKey:
		return model.KindNetwork
	case k == AnyResourceKey:
		return model.KindAccount
	case strings.HasPrefix(k, "arn:"):
		service, _ := arnName(k)
		parts := strings.SplitN(k, ":", 6)
		res := ""
		if len(parts) == 6 {
			res = parts[5]
		}
		switch {
		case service == "iam" && res == "root":
			return model.KindAccount
		case service == "iam" && (strings.HasPrefix(res, "role/") || strings.HasPrefix(res, "user/") || strings.HasPrefix(res, "group/") || strings.HasPrefix(res, "oidc-provider/") || strings.HasPrefix(res, "saml-provider/")):
			return model.KindIdentity
		case service == "s3", service == "dynamodb", service == "rds":
			return model.KindDatastore
		case service == "secretsmanager", service == "ssm", service == "kms":
			return model.KindSecret
		case service == "lambda":
			return model.KindFunction
		}
		return model.KindResource
	}
	return model.KindOfKey(k)
}

func nameOfKey(k string) string {
	switch k {
	case InternetKey:
		return "internet"
	case AnyResourceKey:
		return AccountName
	}
	if strings.HasPrefix(k, "arn:") {
		if _, n := arnName(k); n != "" {
			return n
		}
	}
	if strings.HasPrefix(k, "tf:") {
		return k[3:]
	}
	_, rest, _ := strings.Cut(k, ":")
	return rest
}

// resourceAsset creates the asset of a resource of a known kind.
func (b *builder) resourceAsset(r *resource) {
	kind, ok := kinds[r.typ]
	if !ok || r.data {
		return
	}
	name := ""
	if tags, ok := r.v["tags"].(map[string]any); ok {
		name = str(tags["Name"])
	}
	for _, k := range nameAttrs {
		if name != "" {
			break
		}
		if s := str(r.v[k]); !strings.Contains(s, refMark) {
			name = s
		}
	}
	if name == "" {
		name = r.name
	}
	a := b.asset(r.key, kind, name)
	a.Labels[LabelAddress] = r.addr
	a.Labels[LabelType] = r.typ
	if arn := str(r.v["arn"]); strings.HasPrefix(arn, "arn:") {
		a.Labels[LabelARN] = arn
	}
	for _, t := range []string{"tags", "tags_all"} {
		if tags, ok := r.v[t].(map[string]any); ok {
			for k, v := range tags {
				if s := str(v); s != "" && !strings.Contains(s, refMark) {
					a.Labels["tag."+k] = s
				}
			}
		}
	}
}

func (b *builder) of(types ...string) []*resource {
	var out []*resource
	for _, r := range b.res {
		if !r.data && slices.Contains(types, r.typ) {
			out = append(out, r)
		}
	}
	return out
}

func (b *builder) label(key, name, value string) {
	if a, ok := b.assets[key]; ok {
		a.Labels[name] = value
	}
}

// network reads security groups and the instances, databases and services
// in them, and exposes to the internet what a group opens to it.
func (b *builder) network() {
	open := map[string][]string{} // security group key -> actions open to the internet
	addOpen := func(sg string, rule map[string]any, cidrs []string, proto any) {
		for _, c := range cidrs {
			if c == "0.0.0.0/0" || c == "::/0" {
				open[sg] = appendNew(open[sg], portAction(proto, rule["from_port"], rule["to_port"]))
			}
		}
	}
	for _, r := range b.of("aws_security_group") {
		for _, in := range blocks(r.v, "ingress") {
			addOpen(r.key, in, append(strs(in["cidr_blocks"]), strs(in["ipv6_cidr_blocks"])...), in["protocol"])
		}
	}
	for _, r := range b.of("aws_security_group_rule") {
		if str(r.v["type"]) != "ingress" {
			continue
		}
		for _, sg := range b.keysOf(str(r.v["security_group_id"]), "aws_security_group") {
			addOpen(sg, r.v, append(strs(r.v["cidr_blocks"]), strs(r.v["ipv6_cidr_blocks"])...), r.v["protocol"])
		}
	}
	for _, r := range b.of("aws_vpc_security_group_ingress_rule") {
		for _, sg := range b.keysOf(str(r.v["security_group_id"]), "aws_security_group") {
			addOpen(sg, r.v, []string{str(r.v["cidr_ipv4"]), str(r.v["cidr_ipv6"])}, r.v["ip_protocol"])
		}
	}
	for _, sg := range b.of("aws_security_group") {
		if len(open[sg.key]) > 0 {
			b.label(sg.key, "open_to_internet", strings.Join(open[sg.key], ","))
		}
	}
	// groups resolves the security groups a resource names; expose
	// exposes the resource when allowed is true.
	member := func(key string, values []string, allowed bool) {
		var actions []string
		for _, v := range values {
			for _, sg := range b.keysOf(v, "aws_security_group") {
				b.rel(key, sg, model.RelMemberOf, "")
				for _, a := range open[sg] {
					actions = appendNew(actions, a)
				}
			}
		}
		if !allowed {
			return
		}
		for _, a := range actions {
			b.rel(InternetKey, key, model.RelExposes, a)
		}
	}
	for _, r := range b.of("aws_instance") {
		md := block(r.v, "metadata_options")
		b.label(r.key, LabelIMDSv1, boolText(str(md["http_tokens"]) != "required"))
		pub, set := boolean(r.v["associate_public_ip_address"])
		if ip := str(r.v["public_ip"]); ip != "" {
			pub, set = true, true
			b.label(r.key, "aws.public_ip", ip)
		}
		// The instance's addresses (known in state) are aliases of it:
		// scanners (Nmap, Nuclei) name hosts and their ports by them.
		for _, attr := range []string{"public_ip", "private_ip", "public_dns", "private_dns"} {
			if ip := str(r.v[attr]); ip != "" && !strings.Contains(ip, refMark) {
				b.rel(model.HostKey(ip, ""), r.key, model.RelAliasOf, "")
			}
		}
		if !set {
			// Unset: the subnet decides (map_public_ip_on_launch); an
			// unknown subnet is no public address.
			for _, sn := range b.lookup(str(r.v["subnet_id"]), "aws_subnet") {
				if v, ok := boolean(sn.v["map_public_ip_on_launch"]); ok {
					pub, set = pub || v, true
				}
			}
		}
		if set {
			b.label(r.key, LabelPublicIP, boolText(pub))
		}
		// Its public addresses (known in state), and those of the Elastic
		// IPs associated with it, probed on the ports its exposure names.
		var eps []string
		for _, attr := range []string{"public_ip", "public_dns"} {
			if v := str(r.v[attr]); validEndpointHost(v) {
				eps = appendNew(eps, v)
			}
		}
		for _, e := range b.of("aws_eip") {
			inst := str(e.v["instance"])
			for _, as := range b.of("aws_eip_association") {
				if slices.Contains(b.keysOf(str(as.v["allocation_id"]), "aws_eip"), e.key) {
					inst = str(as.v["instance_id"])
				}
			}
			if inst == "" || !slices.Contains(b.keysOf(inst, "aws_instance"), r.key) {
				continue
			}
			for _, attr := range []string{"public_ip", "public_dns"} {
				if v := str(e.v[attr]); validEndpointHost(v) {
					eps = appendNew(eps, v)
				}
			}
		}
		if len(eps) > 0 {
			b.label(r.key, model.LabelEndpoints, strings.Join(eps, ","))
		}
		var sgs []string
		sgs = append(sgs, strs(r.v["vpc_security_group_ids"])...)
		sgs = append(sgs, strs(r.v["security_groups"])...)
		member(r.key, sgs, pub)
		for _, p := range b.lookup(str(r.v["iam_instance_profile"]), "aws_iam_instance_profile") {
			for _, role := range append(strs(p.v["role"]), strs(p.v["roles"])...) {
				for _, k := range b.keysOf(role, "aws_iam_role") {
					b.rel(r.key, k, model.RelUsesIdentit, "")
				}
			}
		}
	}
	for _, r := range b.of("aws_db_instance", "aws_rds_cluster") {
		pub := isTrue(r.v["publicly_accessible"])
		if r.typ == "aws_db_instance" || r.v["publicly_accessible"] != nil {
			b.label(r.key, LabelPublic, boolText(pub))
		}
		member(r.key, strs(r.v["vpc_security_group_ids"]), pub)
	}
	for _, r := range b.of("aws_ecs_service") {
		nc := block(r.v, "network_configuration")
		member(r.key, strs(nc["security_groups"]), isTrue(nc["assign_public_ip"]))
	}
	b.lbGroups = func(key string, values []string) []string {
		var actions []string
		for _, v := range values {
			for _, sg := range b.keysOf(v, "aws_security_group") {
				b.rel(key, sg, model.RelMemberOf, "")
				for _, a := range open[sg] {
					actions = appendNew(actions, a)
				}
			}
		}
		return actions
	}
}

func boolText(v bool) string {
	if v {
		return "true"
	}
	return "false"
}

// portAction names what a rule opens: "tcp/443", "tcp/8000-8080", "*".
func portAction(proto, from, to any) string {
	p := strings.ToLower(str(proto))
	switch p {
	case "-1", "all", "":
		return "*"
	case "6":
		p = "tcp"
	case "17":
		p = "udp"
	case "1":
		p = "icmp"
	}
	f, fok := number(from)
	t, tok := number(to)
	switch {
	case p == "icmp" || p == "icmpv6" || !fok && !tok:
		return p
	case !tok || f == t:
		return p + "/" + str(f)
	case !fok:
		return p + "/" + str(t)
	}
	return p + "/" + str(f) + "-" + str(t)
}

// loadBalancers exposes internet-facing load balancers and routes their
// listeners to target groups and target groups to their targets.
func (b *builder) loadBalancers() {
	ports := map[string][]string{} // lb key -> listener actions
	tgTypes := []string{"aws_lb_target_group", "aws_alb_target_group"}
	lbTypes := []string{"aws_lb", "aws_alb"}
	actionTGs := func(actions []map[string]any) []string {
		var out []string
		for _, a := range actions {
			out = append(out, strs(a["target_group_arn"])...)
			for _, f := range blocks(a, "forward") {
				for _, tg := range blocks(f, "target_group") {
					out = append(out, strs(tg["arn"])...)
				}
			}
		}
		return out
	}
	listenerLBs := map[*resource][]string{}
	schemes := map[string][]string{} // lb key -> "https://:443", "tcp://:22": its listeners
	for _, l := range b.of("aws_lb_listener", "aws_alb_listener") {
		lbs := b.keysOf(str(l.v["load_balancer_arn"]), lbTypes...)
		listenerLBs[l] = lbs
		if port, ok := number(l.v["port"]); ok {
			scheme := "tcp"
			switch strings.ToUpper(str(l.v["protocol"])) {
			case "HTTPS":
				scheme = "https"
			case "HTTP":
				scheme = "http"
			case "UDP", "TCP_UDP":
				scheme = ""
			}
			for _, lb := range lbs {
				if scheme != "" {
					schemes[lb] = appendNew(schemes[lb], scheme+"://:"+str(port))
				}
			}
		}
		proto := "tcp"
		if p := strings.ToLower(str(l.v["protocol"])); p == "udp" || p == "tcp_udp" {
			proto = "udp"
		}
		for _, lb := range lbs {
			if port, ok := number(l.v["port"]); ok {
				ports[lb] = appendNew(ports[lb], proto+"/"+str(port))
			}
			for _, tg := range actionTGs(blocks(l.v, "default_action")) {
				for _, k := range b.keysOf(tg, tgTypes...) {
					b.rel(lb, k, model.RelRoutesTo, "")
				}
			}
		}
	}
	for _, lr := range b.of("aws_lb_listener_rule", "aws_alb_listener_rule") {
		for _, l := range b.lookup(str(lr.v["listener_arn"]), "aws_lb_listener", "aws_alb_listener") {
			for _, lb := range listenerLBs[l] {
				for _, tg := range actionTGs(blocks(lr.v, "action")) {
					for _, k := range b.keysOf(tg, tgTypes...) {
						b.rel(lb, k, model.RelRoutesTo, "")
					}
				}
			}
		}
	}
	for _, r := range b.of(lbTypes...) {
		internal := isTrue(r.v["internal"])
		b.label(r.key, LabelInternetFacing, boolText(!internal))
		// Its DNS name (known in state) on each listener's scheme and
		// port, or bare (the exposure's ports) when no listener is known.
		if dns := str(r.v["dns_name"]); !internal && validEndpointHost(dns) {
			var eps []string
			for _, sp := range schemes[r.key] {
				scheme, port, _ := strings.Cut(sp, "://:")
				eps = append(eps, scheme+"://"+dns+":"+port)
			}
			if len(eps) == 0 {
				eps = []string{dns}
			}
			b.label(r.key, model.LabelEndpoints, strings.Join(eps, ","))
		}
		if t := str(r.v["load_balancer_type"]); t != "" {
			b.label(r.key, "aws.lb_type", t)
		}
		sgActions := b.lbGroups(r.key, strs(r.v["security_groups"]))
		if internal {
			continue
		}
		actions := ports[r.key]
		if len(actions) == 0 {
			actions = sgActions
		}
		if len(actions) == 0 {
			actions = []string{""}
		}
		for _, a := range actions {
			b.rel(InternetKey, r.key, model.RelExposes, a)
		}
	}
	// The port a target group forwards to: the attachment's, the
	// container's, else the group's own (Action "tcp/8080"; "" when
	// unknown).
	tgPort := func(tg *resource, override any) string {
		port, ok := number(override)
		if !ok {
			port, ok = number(tg.v["port"])
		}
		if !ok || port <= 0 {
			return ""
		}
		proto := "tcp"
		if p := strings.ToLower(str(tg.v["protocol"])); p == "udp" || p == "tcp_udp" {
			proto = "udp"
		}
		return proto + "/" + str(port)
	}
	targetTypes := []string{"aws_instance", "aws_lambda_function"}
	for _, r := range b.of("aws_lb_target_group_attachment", "aws_alb_target_group_attachment") {
		id := str(r.v["target_id"])
		var targets, functions []string
		for _, t := range b.lookup(id, targetTypes...) {
			if t.typ == "aws_lambda_function" {
				functions = append(functions, t.key) // no port: the load balancer invokes it
			} else {
				targets = append(targets, t.key)
			}
		}
		if len(targets)+len(functions) == 0 && net.ParseIP(id) != nil {
			targets = []string{model.HostKey(id, "")}
		}
		for _, tg := range b.lookup(str(r.v["target_group_arn"]), tgTypes...) {
			for _, t := range targets {
				b.rel(tg.key, t, model.RelRoutesTo, tgPort(tg, r.v["port"]))
			}
			for _, t := range functions {
				b.rel(tg.key, t, model.RelRoutesTo, "")
			}
		}
	}
	for _, r := range b.of("aws_ecs_service") {
		for _, lb := range blocks(r.v, "load_balancer") {
			for _, tg := range b.lookup(str(lb["target_group_arn"]), tgTypes...) {
				b.rel(tg.key, r.key, model.RelRoutesTo, tgPort(tg, lb["container_port"]))
			}
		}
	}
}

// buckets decides which buckets are public, through their ACL or their
// policy, unless a public access block stops it.
func (b *builder) buckets() {
	type pub struct {
		aclActions, policyActions []string
		ignoreACL, ignorePolicy   bool
		seen                      bool
	}
	state := map[string]*pub{}
	get := func(k string) *pub {
		if state[k] == nil {
			state[k] = &pub{}
		}
		return state[k]
	}
	aclActions := func(acl string) []string {
		switch acl {
		case "public-read", "authenticated-read":
			return []string{"s3:ListBucket"}
		case "public-read-write":
			return []string{"s3:ListBucket", "s3:PutObject"}
		}
		return nil
	}
	var accountIgnoreACL, accountIgnorePolicy bool
	for _, r := range b.of("aws_s3_account_public_access_block") {
		accountIgnoreACL = isTrue(r.v["block_public_acls"]) || isTrue(r.v["ignore_public_acls"])
		accountIgnorePolicy = isTrue(r.v["block_public_policy"]) || isTrue(r.v["restrict_public_buckets"])
	}
	for _, r := range b.of("aws_s3_bucket") {
		p := get(r.key)
		p.seen = true
		// A bucket's ARN is its name: findings of cloud scanners
		// (Prowler, Security Hub) on it land on this asset.
		if name := str(r.v["bucket"]); name != "" && !strings.Contains(name, refMark) && strings.HasPrefix(r.key, "tf:") {
			b.rel("arn:aws:s3:::"+name, r.key, model.RelAliasOf, "")
		}
		p.aclActions = append(p.aclActions, aclActions(str(r.v["acl"]))...)
		if pol, ok := r.v["policy"]; ok {
			b.bucketPolicy(r.key, pol, &p.policyActions)
		}
	}
	for _, r := range b.of("aws_s3_bucket_acl") {
		for _, k := range b.keysOf(str(r.v["bucket"]), "aws_s3_bucket") {
			p := get(k)
			p.aclActions = append(p.aclActions, aclActions(str(r.v["acl"]))...)
			for _, acp := range blocks(r.v, "access_control_policy") {
				for _, g := range blocks(acp, "grant") {
					for _, ge := range blocks(g, "grantee") {
						uri := str(ge["uri"])
						if !strings.HasSuffix(uri, "/AllUsers") && !strings.HasSuffix(uri, "/AuthenticatedUsers") {
							continue
						}
						switch str(g["permission"]) {
						case "READ":
							p.aclActions = append(p.aclActions, "s3:ListBucket")
						case "WRITE":
							p.aclActions = append(p.aclActions, "s3:PutObject")
						case "FULL_CONTROL":
							p.aclActions = append(p.aclActions, "s3:*")
						}
					}
				}
			}
		}
	}
	for _, r := range b.of("aws_s3_bucket_policy") {
		for _, k := range b.keysOf(str(r.v["bucket"]), "aws_s3_bucket") {
			b.bucketPolicy(k, r.v["policy"], &get(k).policyActions)
		}
	}
	for _, r := range b.of("aws_s3_bucket_public_access_block") {
		for _, k := range b.keysOf(str(r.v["bucket"]), "aws_s3_bucket") {
			p := get(k)
			p.ignoreACL = p.ignoreACL || isTrue(r.v["block_public_acls"]) || isTrue(r.v["ignore_public_acls"])
			p.ignorePolicy = p.ignorePolicy || isTrue(r.v["block_public_policy"]) || isTrue(r.v["restrict_public_buckets"])
		}
	}
	for _, r := range b.of("aws_s3_bucket") {
		p := state[r.key]
		var actions, via []string
		if !p.ignoreACL && !accountIgnoreACL && len(p.aclActions) > 0 {
			actions = append(actions, p.aclActions...)
			via = append(via, "acl")
		}
		if !p.ignorePolicy && !accountIgnorePolicy && len(p.policyActions) > 0 {
			actions = append(actions, p.policyActions...)
			via = append(via, "policy")
		}
		b.label(r.key, LabelPublic, boolText(len(actions) > 0))
		if len(actions) == 0 {
			continue
		}
		b.label(r.key, "public.via", strings.Join(via, ","))
		b.rel(InternetKey, r.key, model.RelExposes, "")
		for _, a := range actions {
			b.rel(InternetKey, r.key, model.RelCan, a)
		}
	}
}

// bucketPolicy records the principals a bucket policy lets in: named
// principals get can edges at once, anyone's actions go to public.
func (b *builder) bucketPolicy(bucket string, pol any, public *[]string) {
	for _, s := range b.policy(pol, 0) {
		if !s.Allow || s.NotAction {
			continue
		}
		if s.AnyPrincipal && len(s.Conditions) == 0 {
			*public = append(*public, s.Actions...)
			continue
		}
		for _, p := range b.principalKeys(s) {
			for _, a := range s.Actions {
				b.rel(p, bucket, model.RelCan, a)
			}
		}
	}
}

// principalKeys resolves the AWS and Federated principals of a statement;
// anyone is the internet.
func (b *builder) principalKeys(s statement) []string {
	var out []string
	if s.AnyPrincipal {
		out = append(out, InternetKey)
	}
	for _, typ := range []string{"AWS", "Federated"} {
		for _, id := range s.Principals[typ] {
			switch {
			case accountIDRE.MatchString(id):
				out = appendNew(out, AccountKey(id))
			case strings.Contains(id, refMark) || strings.HasPrefix(id, "arn:"):
				keys := b.keysOf(id, "aws_iam_role", "aws_iam_user", "aws_iam_group")
				if len(keys) == 0 && strings.HasPrefix(id, "arn:") {
					// An ARN built from data sources: the partition is
					// known; an unknown account or region leaves the
					// principal out rather than keyed by a reference.
					for _, base := range refs(id) {
						if strings.HasSuffix(base, "data.aws_partition.current") {
							id = strings.ReplaceAll(id, ref(base), "aws")
						}
					}
					if !strings.Contains(id, refMark) {
						keys = []string{id}
					}
				}
				for _, k := range keys {
					out = appendNew(out, k)
				}
			}
		}
	}
	return out
}

// principalContext is what the configuration tells of a principal as
// the caller of a request: its ARN when its key is one, and its type.
func (b *builder) principalContext(key string) iam.Context {
	ctx := iam.PrincipalContext(key)
	if a, ok := b.assets[key]; ok && ctx.Principal == "" {
		if arn := a.Labels[LabelARN]; arn != "" {
			ctx = iam.PrincipalContext(arn)
		}
		switch a.Labels[LabelType] {
		case "aws_iam_user":
			ctx.Type = "user"
		case "aws_iam_role":
			ctx.Type = "role"
		}
	}
	return ctx
}

var accountIDRE = regexp.MustCompile(`^[0-9]{12}$`)

// iam reads identities, their policies, attachments, memberships and
// trust policies.
func (b *builder) iam() {
	idTypes := map[string]string{"role": "aws_iam_role", "user": "aws_iam_user", "group": "aws_iam_group"}
	grant := func(key string, sts []statement) {
		if len(sts) == 0 {
			return
		}
		if _, ok := b.perms[key]; !ok {
			b.permOrder = append(b.permOrder, key)
		}
		b.perms[key] = append(b.perms[key], sts...)
	}
	attach := func(key, policyARN string) {
		if pols := b.lookup(policyARN, "aws_iam_policy"); len(pols) > 0 {
			for _, p := range pols {
				grant(key, b.policy(p.v["policy"], 0))
				b.rel(key, p.key, model.RelAttached, "")
			}
			return
		}
		if policyARN == "" || strings.Contains(policyARN, refMark) {
			return
		}
		if doc, _, ok := iam.ManagedPolicy(policyARN); ok {
			var m map[string]any
			if err := ingest.UnmarshalJSON([]byte(doc), &m); err == nil {
				grant(key, policyDoc(m))
			}
		}
		if a, ok := b.assets[key]; ok {
			list := strings.Split(a.Labels[LabelManaged], ",")
			if a.Labels[LabelManaged] == "" {
				list = nil
			}
			a.Labels[LabelManaged] = strings.Join(appendNew(list, policyARN), ",")
		}
	}
	for _, r := range b.of("aws_iam_role") {
		for _, ip := range blocks(r.v, "inline_policy") {
			grant(r.key, b.policy(ip["policy"], 0))
		}
		for _, arn := range strs(r.v["managed_policy_arns"]) {
			attach(r.key, arn)
		}
		b.trust(r)
	}
	for kind, typ := range sortedMap(idTypes) {
		for _, r := range b.of("aws_iam_" + kind + "_policy") {
			for _, k := range b.keysOf(str(r.v[kind]), typ) {
				grant(k, b.policy(r.v["policy"], 0))
			}
		}
		for _, r := range b.of("aws_iam_" + kind + "_policy_attachment") {
			for _, k := range b.keysOf(str(r.v[kind]), typ) {
				attach(k, str(r.v["policy_arn"]))
			}
		}
	}
	for _, r := range b.of("aws_iam_policy_attachment") {
		for kind, typ := range sortedMap(idTypes) {
			for _, v := range strs(r.v[kind+"s"]) {
				for _, k := range b.keysOf(v, typ) {
					attach(k, str(r.v["policy_arn"]))
				}
			}
		}
	}
	for _, r := range b.of("aws_iam_group_membership") {
		for _, g := range b.keysOf(str(r.v["group"]), "aws_iam_group") {
			for _, u := range strs(r.v["users"]) {
				for _, k := range b.keysOf(u, "aws_iam_user") {
					b.rel(k, g, model.RelMemberOf, "")
				}
			}
		}
	}
	for _, r := range b.of("aws_iam_user_group_membership") {
		for _, u := range b.keysOf(str(r.v["user"]), "aws_iam_user") {
			for _, g := range strs(r.v["groups"]) {
				for _, k := range b.keysOf(g, "aws_iam_group") {
					b.rel(u, k, model.RelMemberOf, "")
				}
			}
		}
	}
}

// trust reads a role's trust policy: each AWS or Federated principal it
// names gets role —trusts→ principal (Action: the sts action and the
// conditions it holds under); the services it names and whether it lets
// anyone in become labels.
func (b *builder) trust(r *resource) {
	var services []string
	anyone := ""
	for _, s := range b.policy(r.v["assume_role_policy"], 0) {
		if !s.Allow || s.NotAction || s.Never {
			continue
		}
		actions := s.Actions
		if len(actions) == 0 {
			actions = []string{"sts:AssumeRole"}
		}
		for _, svc := range s.Principals["Service"] {
			services = appendNew(services, svc)
		}
		if s.AnyPrincipal {
			if len(s.Conditions) == 0 {
				anyone = "true"
			} else if anyone == "" {
				anyone = "if " + iam.ConditionsText(s.Conditions)
			}
		}
		for _, p := range b.principalKeys(s) {
			if p == InternetKey {
				continue
			}
			// Conditions on a named principal are settled for it; on
			// an account they depend on the caller, and the graph
			// settles them.
			conds, ok := s.Conditions, true
			if !strings.HasSuffix(p, ":root") {
				conds, ok = iam.Settle(conds, b.principalContext(p))
			}
			if !ok {
				continue
			}
			for _, a := range actions {
				b.rel(r.key, p, model.RelTrusts, actionText(a, iam.ConditionsText(conds)))
			}
		}
	}
	if len(services) > 0 {
		slices.Sort(services)
		b.label(r.key, LabelTrustedService, strings.Join(services, ","))
	}
	if anyone != "" {
		b.label(r.key, LabelTrustAnyone, anyone)
	}
}

// sortedMap iterates a map in key order.
func sortedMap[V any](m map[string]V) func(func(string, V) bool) {
	return func(yield func(string, V) bool) {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if !yield(k, m[k]) {
				return
			}
		}
	}
}

var secretNameRE = regexp.MustCompile(`(?i)(TOKEN|SECRET|PASSW(OR)?D|PASS|PWD|KEY|CREDENTIAL|API_?KEY)`)

// compute reads functions, ECS services and task definitions, CodeBuild
// projects and secrets.
func (b *builder) compute() {
	roleTypes := []string{"aws_iam_role"}
	for _, r := range b.of("aws_lambda_function") {
		for _, k := range b.keysOf(str(r.v["role"]), roleTypes...) {
			b.rel(r.key, k, model.RelUsesIdentit, "")
		}
		if img := str(r.v["image_uri"]); img != "" && !strings.Contains(img, refMark) {
			b.rel(r.key, model.ImageKey(img), model.RelRuns, "")
			b.asset(model.ImageKey(img), model.KindImage, img)
		}
		var names []string
		for k, v := range block(r.v, "environment") {
			if k != "variables" {
				continue
			}
			if vars, ok := v.(map[string]any); ok {
				for name := range vars {
					if secretNameRE.MatchString(name) {
						names = append(names, name)
					}
				}
			}
		}
		b.plaintext(r.key, names)
		for _, s := range blocks(r.v, "vpc_config") {
			for _, sg := range strs(s["security_group_ids"]) {
				for _, k := range b.keysOf(sg, "aws_security_group") {
					b.rel(r.key, k, model.RelMemberOf, "")
				}
			}
		}
	}
	for _, r := range b.of("aws_lambda_function_url") {
		if str(r.v["authorization_type"]) != "NONE" {
			continue
		}
		for _, k := range b.keysOf(str(r.v["function_name"]), "aws_lambda_function") {
			b.rel(InternetKey, k, model.RelExposes, "tcp/443")
		}
	}
	taskEdges := map[string]func(key string){}
	for _, r := range b.of("aws_ecs_task_definition") {
		roles := b.keysOf(str(r.v["task_role_arn"]), roleTypes...)
		var images, secrets, names []string
		for _, c := range containerDefs(b, r.v["container_definitions"]) {
			if img := str(c["image"]); img != "" && !strings.Contains(img, refMark) {
				images = appendNew(images, img)
			}
			for _, e := range anyMaps(c["secrets"]) {
				vf := str(e["valueFrom"])
				keys := b.keysOf(vf, "aws_secretsmanager_secret")
				if len(keys) == 0 && strings.HasPrefix(vf, "arn:") {
					keys = []string{vf}
				}
				for _, k := range keys {
					secrets = appendNew(secrets, k)
				}
			}
			for _, e := range anyMaps(c["environment"]) {
				if n := str(e["name"]); secretNameRE.MatchString(n) {
					names = appendNew(names, n)
				}
			}
		}
		b.plaintext(r.key, names)
		edges := func(key string) {
			for _, k := range roles {
				b.rel(key, k, model.RelUsesIdentit, "")
			}
			for _, img := range images {
				b.asset(model.ImageKey(img), model.KindImage, img)
				b.rel(key, model.ImageKey(img), model.RelRuns, "")
			}
			for _, s := range secrets {
				b.rel(key, s, model.RelReadsEnv, "")
			}
		}
		edges(r.key)
		taskEdges[r.key] = edges
	}
	for _, r := range b.of("aws_ecs_service") {
		for _, td := range b.lookup(str(r.v["task_definition"]), "aws_ecs_task_definition") {
			if e := taskEdges[td.key]; e != nil {
				e(r.key)
			}
		}
	}
	for _, r := range b.of("aws_codebuild_project") {
		for _, k := range b.keysOf(str(r.v["service_role"]), roleTypes...) {
			b.rel(r.key, k, model.RelUsesIdentit, "")
		}
		var names []string
		for _, env := range blocks(r.v, "environment") {
			for _, ev := range blocks(env, "environment_variable") {
				typ := str(ev["type"])
				if (typ == "" || typ == "PLAINTEXT") && secretNameRE.MatchString(str(ev["name"])) {
					names = appendNew(names, str(ev["name"]))
				}
			}
		}
		b.plaintext(r.key, names)
		for _, src := range append(blocks(r.v, "source"), blocks(r.v, "secondary_sources")...) {
			if loc := str(src["location"]); isRepoURL(str(src["type"]), loc) {
				key := model.RepoKey(loc)
				b.asset(key, model.KindRepository, strings.TrimPrefix(key, "repo:"))
				b.rel(r.key, key, model.RelBuiltFrom, "")
			}
		}
	}
	for typ, attr := range sortedMap(map[string]string{"aws_glue_dev_endpoint": "role_arn", "aws_sagemaker_notebook_instance": "role_arn", "aws_cloudformation_stack": "iam_role_arn"}) {
		for _, r := range b.of(typ) {
			for _, k := range b.keysOf(str(r.v[attr]), roleTypes...) {
				b.rel(r.key, k, model.RelUsesIdentit, "")
			}
		}
	}
	for _, r := range b.of("aws_secretsmanager_secret_version") {
		if r.v["secret_string"] == nil && r.v["secret_binary"] == nil && r.v["secret_string_wo"] == nil {
			continue
		}
		for _, k := range b.keysOf(str(r.v["secret_id"]), "aws_secretsmanager_secret") {
			b.label(k, LabelSecretInTF, "true")
		}
	}
}

// plaintext labels an asset with the names of its secret-looking plain
// variables; the values are never read.
func (b *builder) plaintext(key string, names []string) {
	if len(names) == 0 {
		return
	}
	slices.Sort(names)
	b.label(key, LabelPlaintextEnv, strings.Join(slices.Compact(names), ","))
}

// isRepoURL reports whether a CodeBuild source location names a source
// repository rather than a bucket or nothing.
func isRepoURL(typ, loc string) bool {
	if loc == "" || strings.Contains(loc, refMark) {
		return false
	}
	switch strings.ToUpper(typ) {
	case "GITHUB", "GITHUB_ENTERPRISE", "BITBUCKET", "CODECOMMIT", "GITLAB", "GITLAB_SELF_MANAGED":
		return true
	case "S3", "NO_SOURCE", "CODEPIPELINE":
		return false
	}
	return strings.HasPrefix(loc, "https://") || strings.HasPrefix(loc, "git@")
}

// containerDefs reads ECS container definitions: a JSON string or a list.
func containerDefs(b *builder, v any) []map[string]any {
	if s, ok := v.(string); ok {
		var list []any
		if err := ingest.UnmarshalJSON([]byte(s), &list); err != nil {
			b.opts.Warn("terraform: container_definitions is no JSON list: %v", err)
			return nil
		}
		v = list
	}
	return anyMaps(v)
}

func anyMaps(v any) []map[string]any {
	l, _ := v.([]any)
	var out []map[string]any
	for _, e := range l {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// validEndpointHost reports whether v is a known IP address or DNS name
// (no reference to another resource, no wildcard or separator), so that
// an endpoint built from it names one host.
func validEndpointHost(v string) bool {
	if v == "" || strings.Contains(v, refMark) || len(v) > 253 {
		return false
	}
	if _, err := netip.ParseAddr(v); err == nil {
		return true
	}
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return !strings.HasPrefix(v, ".") && !strings.HasSuffix(v, ".")
}
