package sqlstore_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// TestEstateAsListed checks that the estate read of an analysis gives
// the assets and relations as the unfiltered listings give them, in
// their order: relations written out of order, several between the same
// two assets by type, action and source, labels kept.
func TestEstateAsListed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := ingesttest.OpenStore(t)
	tx, err := st.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.BeginScan(model.Scan{Tool: "inventory", Format: "test", Target: "estate"}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []model.Asset{
		{Key: "workload:shop/web", Kind: model.AssetKind("workload"), Name: "web", Labels: map[string]string{"public": "true", "tier": "front"}},
		{Key: "db:orders", Kind: model.AssetKind("datastore"), Name: "orders", Owner: "team-a"},
		{Key: "identity:role/app", Kind: model.AssetKind("identity"), Name: "app"},
		{Key: "bucket:logs", Kind: model.AssetKind("datastore"), Name: "logs", Environment: "prod"},
	} {
		if err := tx.Asset(a); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []model.Relation{
		{From: "workload:shop/web", To: "identity:role/app", Type: model.RelationType("uses-identity"), Source: "k8s"},
		{From: "identity:role/app", To: "db:orders", Type: model.RelationType("can"), Action: "rds:Connect", Source: "terraform:main.tf"},
		{From: "identity:role/app", To: "db:orders", Type: model.RelationType("can"), Action: "rds:*", Source: "aws-iam:x"},
		{From: "identity:role/app", To: "bucket:logs", Type: model.RelationType("can"), Action: "s3:GetObject", Source: "terraform:main.tf"},
		{From: "identity:role/app", To: "bucket:logs", Type: model.RelationType("can"), Action: "s3:GetObject", Source: "inventory"},
		{From: "workload:shop/web", To: "db:orders", Type: model.RelationType("connects"), Source: "k8s"},
		{From: "internet", To: "workload:shop/web", Type: model.RelationType("exposes"), Source: "k8s"},
	} {
		if err := tx.Relation(r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tx.EndInput(ctx, "estate", ""); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	assets, rels, err := st.Estate(ctx)
	if err != nil {
		t.Fatalf("Estate = %v", err)
	}
	if diff := cmp.Diff(assets, collect(t, st.Assets(ctx, store.Filter{}))); diff != "" {
		t.Errorf("Estate assets differ from Assets (-got +want):\n%s", diff)
	}
	wantRels := collect(t, st.Relations(ctx, store.Filter{}))
	if diff := cmp.Diff(rels, wantRels); diff != "" {
		t.Errorf("Estate relations differ from Relations (-got +want):\n%s", diff)
	}
	if len(assets) < 4 || len(wantRels) != 7 {
		t.Errorf("Estate = %d assets, %d relations; want at least 4 and 7", len(assets), len(wantRels))
	}
}
