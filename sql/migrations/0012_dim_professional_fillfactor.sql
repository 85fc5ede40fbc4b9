-- Every build updates the dimension row of each professional with a new event (a day of a
-- 10M-event history: 54k-63k of 776k rows). With room left on each page the update can stay on its page
-- without a new index entry (a HOT update): the daily merge took 35-45% less time in paired runs
-- (docs/incremental-model.md). The next build is a full refresh (the model definition changed),
-- which rewrites the table with the free space.
ALTER TABLE {{mart}}.dim_professional SET (fillfactor = 80);
