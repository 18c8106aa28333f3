package graph

import (
	"math/rand/v2"
	"strconv"

	"github.com/ctem-dev/ctem/internal/intel/effect"
	"github.com/ctem-dev/ctem/internal/model"
)

// SynthConfig sizes a synthetic estate.
type SynthConfig struct {
	Seed uint64
	// Apps is the number of applications; each is one connected
	// component of 18 assets: an ingress, a service, three workloads
	// with their images and service accounts, a repository, two
	// secrets, a database user, a database, a node and a node role.
	Apps int
	// WeaknessesPerImage is the number of exposures on each image.
	WeaknessesPerImage int
}

// Synthesize returns a deterministic synthetic estate for benchmarks and
// tests: the same config gives the same Input. Most exposures are
// dos-only, info-only or read; about 2% give exec, some with KEV or
// reachable-call evidence; a fifth of the workloads run privileged; every
// database is a crown jewel. CVEs come in groups of five per package
// version, so one upgrade fixes five. O(Apps × WeaknessesPerImage).
func Synthesize(cfg SynthConfig) *Input {
	r := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	in := &Input{}
	in.Assets = append(in.Assets, model.Asset{Key: InternetKey, Kind: model.KindNetwork, Name: "internet"})
	effects := []effect.Effect{effect.DoSOnly, effect.InfoOnly, effect.Read, effect.InfoOnly, effect.DoSOnly}
	for a := range cfg.Apps {
		p := "app" + strconv.Itoa(a)
		k := func(kind, name string) string { return model.K8sKey("c", p, kind, name) }
		add := func(key string, kind model.AssetKind, labels map[string]string) {
			in.Assets = append(in.Assets, model.Asset{Key: key, Kind: kind, Name: key, Labels: labels, Owner: "team-" + strconv.Itoa(a%50)})
		}
		rel := func(from, to string, t model.RelationType, action string) {
			in.Relations = append(in.Relations, model.Relation{From: from, To: to, Type: t, Action: action})
		}
		ing, svc, repo := k("Ingress", "web"), k("Service", "web"), "repo:git.example.com/"+p
		db, dbUser, node, nodeRole := "db:"+p, "dbuser:"+p, "node:"+p, "role:"+p+"-node"
		add(ing, model.KindLoadBalancer, nil)
		add(svc, model.KindEndpoint, nil)
		add(repo, model.KindRepository, nil)
		add(db, model.KindDatastore, nil)
		add(dbUser, model.KindIdentity, nil)
		add(node, model.KindNode, nil)
		add(nodeRole, model.KindIdentity, nil)
		rel(InternetKey, ing, model.RelExposes, "")
		rel(ing, svc, model.RelRoutesTo, "")
		rel(node, nodeRole, model.RelUsesIdentit, "")
		rel(dbUser, db, model.RelCan, "read")
		rel(nodeRole, db, model.RelCan, "rds:DescribeDBInstances")
		secrets := []string{k("Secret", "db"), k("Secret", "api")}
		for _, s := range secrets {
			add(s, model.KindSecret, nil)
		}
		rel(secrets[0], dbUser, RelGrants, "")
		in.Jewels = append(in.Jewels, Jewel{Asset: db, Value: 1 + a%10})
		for w := range 3 {
			wl, img, sa := k("Deployment", "w"+strconv.Itoa(w)), "image:reg.example.com/"+p+"/w"+strconv.Itoa(w)+":1", k("ServiceAccount", "w"+strconv.Itoa(w))
			var labels map[string]string
			if r.IntN(5) == 0 {
				labels = map[string]string{model.LabelEscapePrivileged: "true"}
			}
			add(wl, model.KindWorkload, labels)
			add(img, model.KindImage, nil)
			add(sa, model.KindIdentity, nil)
			rel(svc, wl, model.RelRoutesTo, "")
			rel(wl, img, model.RelRuns, "")
			rel(img, repo, model.RelBuiltFrom, "")
			rel(wl, sa, model.RelUsesIdentit, "")
			rel(wl, node, model.RelRunsOn, "")
			rel(wl, db, model.RelConnectsTo, "")
			if w == 0 {
				rel(sa, secrets[0], model.RelCan, "get secrets")
			}
			rel(wl, secrets[1], model.RelMounts, "")
			for i := range cfg.WeaknessesPerImage {
				e := effects[r.IntN(len(effects))]
				if r.IntN(50) == 0 {
					e = effect.Exec
				}
				wk := Weakness{
					Exposure: model.Exposure{
						ID: p + "-w" + strconv.Itoa(w) + "-" + strconv.Itoa(i), Kind: model.FindingVulnerability, Asset: img,
						VulnIDs: []string{"CVE-2024-" + strconv.Itoa(10000+i)},
						Package: model.Package{Name: "pkg" + strconv.Itoa(i/5), Version: "1.0." + strconv.Itoa(i/5), FixedVersion: "1.1.0"},
					},
					Effect: effect.Result{Effect: e, Confidence: effect.High},
					EPSS:   float64(r.IntN(1000)) / 10000,
				}
				if r.IntN(100) == 0 {
					wk.KEV = true
				}
				if r.IntN(10) == 0 {
					wk.Evidence = []model.EvidenceKind{model.EvidenceReachableCall}
				}
				in.Weaknesses = append(in.Weaknesses, wk)
			}
		}
	}
	return in
}
