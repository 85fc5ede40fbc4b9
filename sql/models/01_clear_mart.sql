-- The star schema is rebuilt whole from the raw layer in one transaction (like a dbt "table"
-- materialization): re-running the model never duplicates or loses rows, and readers see either
-- the previous or the new version. dim_event_type is reference data owned by the migrations.
TRUNCATE
    {{mart}}.professional_availability_history,
    {{mart}}.fct_event,
    {{mart}}.dim_service,
    {{mart}}.dim_professional,
    {{mart}}.dim_date;
