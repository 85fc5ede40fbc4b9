import type { Database } from '../db/database.js';
import type { SchemaNames } from '../db/sql-files.js';
import { quoteIdentifier } from '../db/sql-files.js';

/**
 * `{{availability_event_types}}`: the event types dim_event_type says change availability, as a
 * SQL literal list. The rule lives in that table; the SQL gets literals so that the planner
 * estimates them from column statistics and the partial indexes on availability events apply.
 */
export async function availabilityEventTypes(db: Database, schemas: SchemaNames): Promise<string> {
  const { rows } = await db.query<{ list: string | null }>(
    `SELECT '(' || string_agg(quote_literal(event_type), ', ' ORDER BY event_type) || ')' AS list
     FROM ${quoteIdentifier(schemas.mart)}.dim_event_type WHERE changes_availability`,
  );
  return rows[0]?.list ?? '(NULL)';
}
