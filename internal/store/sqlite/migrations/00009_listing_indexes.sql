-- +goose Up
-- finding_vulns becomes a plain table with two indexes instead of a
-- WITHOUT ROWID primary key on (finding_id, vuln_id): its rows are then
-- appended, and its indexes, like every index a listing needs, can be
-- built once by sorting at the end of a first, bulk ingest (sqlstore's
-- deferredIndexes) instead of being filled at random places row by row,
-- which tripled the CPU time of a 1M-finding first ingest (40 s to
-- 115 s). The ingest writes a finding's ids once (it deletes them first
-- when a changed finding is written again), so no unique key is needed.
CREATE TABLE finding_vulns_new (
  finding_id TEXT,
  vuln_id    TEXT
);
INSERT INTO finding_vulns_new (finding_id, vuln_id) SELECT finding_id, vuln_id FROM finding_vulns ORDER BY vuln_id, finding_id;
DROP TABLE finding_vulns;
ALTER TABLE finding_vulns_new RENAME TO finding_vulns;
-- The filter: a vulnerability id's findings, without reading a row.
CREATE INDEX finding_vulns_vuln ON finding_vulns (vuln_id, finding_id);
-- Replacing a changed finding's ids.
CREATE INDEX finding_vulns_finding ON finding_vulns (finding_id);

-- The newest-first listings (store.SortNewest): a page is an index range.
CREATE INDEX findings_newest ON findings (first_seen DESC, id);
CREATE INDEX exposures_newest ON exposures (first_seen DESC, id);

-- Filters read through an index when they select few rows (sqlstore's
-- listing plan): a status, kind or tool that is absent or rare costs
-- index lookups instead of a walk through every row in the listing's
-- order. One index serves the three filters of findings: a kind or tool
-- alone is searched under each status (and kind) present, a handful of
-- lookups. (An index on the tool alone would be preferred by SQLite's
-- planner, without statistics, over the primary-key range that an
-- exposure's findings are, TestExposureFindingsPlan.) An asset's
-- findings come in severity order from their own index.
CREATE INDEX findings_filter ON findings (status, kind, tool);
CREATE INDEX findings_asset ON findings (asset, sev DESC, rule_id, id);
CREATE INDEX exposures_filter ON exposures (status, kind);

-- +goose Down
DROP INDEX exposures_filter;
DROP INDEX findings_asset;
DROP INDEX findings_filter;
DROP INDEX exposures_newest;
DROP INDEX findings_newest;
CREATE TABLE finding_vulns_old (
  finding_id TEXT,
  vuln_id    TEXT,
  PRIMARY KEY (finding_id, vuln_id)
) WITHOUT ROWID;
INSERT INTO finding_vulns_old (finding_id, vuln_id) SELECT DISTINCT finding_id, vuln_id FROM finding_vulns;
DROP TABLE finding_vulns;
ALTER TABLE finding_vulns_old RENAME TO finding_vulns;
CREATE INDEX finding_vulns_vuln ON finding_vulns (vuln_id);
