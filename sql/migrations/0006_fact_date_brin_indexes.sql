-- Facts arrive roughly in time order, so a date_key range maps to a narrow run of heap pages: a
-- BRIN index answers date filters almost as well as a btree at a fraction of its size and build
-- time (the model re-creates every index on each rebuild). The btree on fct_event.event_type
-- served no query: four values, the common ones not selective, and the availability events
-- already have fct_event_availability_idx.
DROP INDEX {{mart}}.fct_event_event_type_idx;
DROP INDEX {{mart}}.fct_event_date_idx;
CREATE INDEX fct_event_date_idx ON {{mart}}.fct_event USING brin (date_key);
DROP INDEX {{mart}}.fct_proposal_date_idx;
CREATE INDEX fct_proposal_date_idx ON {{mart}}.fct_proposal USING brin (date_key);
