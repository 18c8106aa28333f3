-- +goose Up
-- Facts recorded for one finding, looked up by the finding: a
-- re-analysis reads the evidence about the exposures it covers only.
CREATE INDEX evidence_finding ON evidence (finding_id);

-- +goose Down
DROP INDEX evidence_finding;
