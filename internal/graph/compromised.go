package graph

import "github.com/ctem-dev/ctem/internal/model"

// EntryCompromised is an asset assumed compromised (Entry.Asset): the
// start of a blast-radius question. It gives the capabilities an attacker
// holds over an asset of that kind once it is theirs (see
// CompromisedCaps).
const EntryCompromised EntryKind = "compromised"

// CompromisedCaps returns the capabilities an attacker holds over a
// compromised asset of kind k: the credentials of an identity or an
// account; control of a cluster's control plane; the contents of a
// secret, data store, file or cloud resource (read and write); write to a repository, image or
// package (which the supply chain rule turns into exec downstream) and
// read of it (a secret committed to it); traffic into a network; and
// code execution on everything else that runs code (workloads, hosts,
// functions, nodes, endpoints, load balancers).
func CompromisedCaps(k model.AssetKind) []Capability {
	switch k {
	case model.KindIdentity, model.KindAccount:
		return []Capability{Identity}
	case model.KindCluster:
		return []Capability{Admin}
	case model.KindSecret, model.KindDatastore, model.KindFile, model.KindResource, model.KindRepository, model.KindImage, model.KindPackage:
		return []Capability{Read, Write}
	case model.KindNetwork:
		return []Capability{Network}
	}
	return []Capability{Exec}
}

// compromisedEntries adds the entry states of an EntryCompromised entry
// through add (see entriesFrom): free, since no action removes an
// assumption.
func (g *Graph) compromisedEntries(en Entry, add func(s, fact int32, free bool)) {
	id, ok := g.x.ids[en.Asset]
	if !ok {
		return
	}
	l := g.localOf(id)
	if l < 0 {
		return
	}
	for _, c := range CompromisedCaps(g.x.assets[id].kind) {
		add(l*numCaps+int32(c), -1, true)
	}
}
