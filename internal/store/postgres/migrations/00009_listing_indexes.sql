-- +goose Up
-- finding_vulns keeps only a finding's vulnerability ids after the
-- first, which findings.vuln_id holds (00005) and findings_vuln indexes:
-- most findings have one id, and a row and two index entries for each,
-- at random places of its WITHOUT ROWID key, tripled the CPU time of a
-- 1M-finding first ingest (40 s to 115 s). It becomes a plain table with
-- two indexes, which, like every index a listing needs, a first, bulk
-- ingest builds once by sorting at its end (sqlstore's deferredIndexes)
-- instead of filling them row by row. The ingest writes a finding's ids
-- once (it deletes them first when a changed finding is written again),
-- so no unique key is needed. A vulnerability id's findings are those
-- whose vuln_id it is and those finding_vulns lists for it.
CREATE TABLE finding_vulns_new (
  finding_id TEXT COLLATE "C",
  vuln_id    TEXT COLLATE "C"
);
INSERT INTO finding_vulns_new (finding_id, vuln_id)
SELECT v.finding_id, v.vuln_id FROM finding_vulns v JOIN findings f ON f.id = v.finding_id
WHERE v.vuln_id <> f.vuln_id ORDER BY v.vuln_id, v.finding_id;
DROP TABLE finding_vulns;
ALTER TABLE finding_vulns_new RENAME TO finding_vulns;
CREATE INDEX finding_vulns_vuln ON finding_vulns (vuln_id, finding_id);
-- Replacing a changed finding's ids.
CREATE INDEX finding_vulns_finding ON finding_vulns (finding_id);
CREATE INDEX findings_vuln ON findings (vuln_id);

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
DROP INDEX findings_vuln;
CREATE TABLE finding_vulns_old (
  finding_id TEXT COLLATE "C",
  vuln_id    TEXT COLLATE "C",
  PRIMARY KEY (finding_id, vuln_id)
);
INSERT INTO finding_vulns_old (finding_id, vuln_id) SELECT DISTINCT finding_id, vuln_id FROM finding_vulns
UNION SELECT id, vuln_id FROM findings WHERE vuln_id <> '';
DROP TABLE finding_vulns;
ALTER TABLE finding_vulns_old RENAME TO finding_vulns;
CREATE INDEX finding_vulns_vuln ON finding_vulns (vuln_id);
