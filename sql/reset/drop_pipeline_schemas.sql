-- Everything the pipeline created lives in its three schemas: dropping them is a fresh start.
-- The raw schema goes last, with the run log and the migrations that would recreate the rest.
DROP SCHEMA IF EXISTS {{mart}} CASCADE;
DROP SCHEMA IF EXISTS {{staging}} CASCADE;
DROP SCHEMA IF EXISTS {{raw}} CASCADE;
