-- +goose Up
-- The facts on given asset keys about given vulnerability ids
-- (EvidenceAbout, which a re-analysis of a few components reads): by
-- vulnerability id alone, a few dozen common CVEs matched every fact
-- of the estate, to be filtered by asset (100k index entries read for
-- the 5 facts of one image at 1M findings).
CREATE INDEX evidence_asset ON evidence (asset, vuln_id);

-- +goose Down
DROP INDEX evidence_asset;
