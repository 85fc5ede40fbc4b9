-- dim_professional's current availability is its history's current period: the state it holds and
-- since when (not able and NULL without one). Set for the professionals whose history was rebuilt:
-- on a full refresh every current period, else those with an availability event in the increment.
UPDATE {{mart}}.dim_professional AS p
SET is_currently_able = coalesce(h.is_able, false),
    last_availability_change_at = h.valid_from
FROM (
    SELECT c.professional_id FROM {{mart}}.professional_availability_history AS c
    WHERE {{full_refresh}} AND c.is_current
    UNION
    SELECT i.professional_id FROM {{increment}} AS i
    WHERE NOT {{full_refresh}}
      AND i.event_type IN {{availability_event_types}}
) AS touched
LEFT JOIN {{mart}}.professional_availability_history AS h
    ON h.professional_id = touched.professional_id AND h.is_current
WHERE p.professional_id = touched.professional_id
  AND (p.is_currently_able, p.last_availability_change_at) IS DISTINCT FROM (coalesce(h.is_able, false), h.valid_from);
