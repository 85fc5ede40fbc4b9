import type { Database } from './database.js';

/** A constraint or index as the migrations created it, with the statements that remove and restore it. */
export interface DeferredDdl {
  /** The constraint's or the index's name. */
  name: string;
  drop: string;
  create: string;
}

/**
 * Keys, foreign keys and secondary indexes of `tables` in `schema`, read from the catalog, so
 * they always match the migrations. A bulk load drops them (dropDeferred), loads, and re-creates
 * them (recreateDeferred): PostgreSQL then builds each key and index with one sort and checks
 * each foreign key with one join, instead of an index insertion and a trigger call per row
 * (several times faster on large loads). Returned in drop order: foreign keys first, as they
 * depend on the keys they reference. A key's NOT NULL stays on its columns. Constraints that
 * PostgreSQL derives from another (a foreign key's copies per referenced partition) go with it.
 */
export async function deferrableConstraintsAndIndexes(db: Database, schema: string, tables: readonly string[]): Promise<DeferredDdl[]> {
  const { rows: constraints } = await db.query<{ tbl: string; name: string; def: string }>(
    `SELECT c.conrelid::regclass::text AS tbl, quote_ident(c.conname) AS name, pg_get_constraintdef(c.oid) AS def
     FROM pg_constraint AS c JOIN pg_class AS t ON t.oid = c.conrelid JOIN pg_namespace AS n ON n.oid = t.relnamespace
     WHERE c.contype IN ('f', 'p', 'u') AND c.conparentid = 0 AND n.nspname = $1 AND t.relname = ANY ($2::text[])
     ORDER BY c.contype = 'f' DESC, 1, 2`,
    [schema, tables],
  );
  const { rows: indexes } = await db.query<{ name: string; qualified: string; def: string }>(
    `SELECT quote_ident(ic.relname) AS name, i.indexrelid::regclass::text AS qualified, pg_get_indexdef(i.indexrelid) AS def
     FROM pg_index AS i JOIN pg_class AS ic ON ic.oid = i.indexrelid
     JOIN pg_class AS t ON t.oid = i.indrelid JOIN pg_namespace AS n ON n.oid = t.relnamespace
     WHERE NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)
       AND n.nspname = $1 AND t.relname = ANY ($2::text[])
     ORDER BY 2`,
    [schema, tables],
  );
  return [
    ...constraints.map((c) => ({ name: c.name, drop: `ALTER TABLE ${c.tbl} DROP CONSTRAINT ${c.name}`, create: `ALTER TABLE ${c.tbl} ADD CONSTRAINT ${c.name} ${c.def}` })),
    // A partitioned table's index is defined ON ONLY the parent; created without ONLY it is built on every partition.
    ...indexes.map((ix) => ({ name: ix.name, drop: `DROP INDEX ${ix.qualified}`, create: ix.def.replace(/ ON ONLY /, ' ON ') })),
  ];
}

export async function dropDeferred(db: Database, deferred: readonly DeferredDdl[]): Promise<void> {
  for (const ddl of deferred) await db.exec(ddl.drop);
}

/**
 * Re-creates in reverse drop order: keys before the foreign keys that need them. `onEach` is told
 * before each statement (progress: on a large table each is a sort or a join of seconds).
 */
export async function recreateDeferred(db: Database, deferred: readonly DeferredDdl[], onEach?: (ddl: DeferredDdl, position: number, count: number) => void): Promise<void> {
  const order = [...deferred].reverse();
  for (const [i, ddl] of order.entries()) {
    onEach?.(ddl, i + 1, order.length);
    await db.exec(ddl.create);
  }
}
