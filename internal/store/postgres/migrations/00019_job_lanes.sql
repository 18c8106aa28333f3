-- +goose Up
-- An ingest job's lane: the (tool, target) its upload scans, as
-- "tool<newline>target", detected when it is uploaded. Jobs of one lane
-- run one at a time in upload order; jobs of different lanes may run at
-- once on several servers. '*' (the scan could not be read ahead) waits
-- for every older job with a lane and holds back every newer one; ''
-- (scheduled jobs, deliveries) has no order.
ALTER TABLE jobs ADD COLUMN lane TEXT COLLATE "C" NOT NULL DEFAULT '';

-- The exposures of one asset in severity order: at 10M exposures a page
-- of an asset's 100,000 read them all through exposures_asset and sorted
-- them (190 to 280 ms on PostgreSQL); this index reads the page only.
CREATE INDEX exposures_asset_sev ON exposures (asset, sev DESC, vuln_id, rule_id, id);

-- +goose Down
DROP INDEX exposures_asset_sev;
ALTER TABLE jobs DROP COLUMN lane;
