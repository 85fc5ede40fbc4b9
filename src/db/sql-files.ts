import { readFile, readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** Repository (or image) root: this file lives in src/db or dist/db, two levels down. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SQL_ROOT = path.join(PACKAGE_ROOT, 'sql');

export interface SchemaNames {
  mart: string;
  raw: string;
  staging: string;
}

export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * SQL files name schemas as {{mart}}, {{raw}} and {{staging}} so the same files serve every
 * deployment (and every test, each in schemas of its own). Names are validated identifiers
 * (see config/settings.ts) and quoted here; values are never interpolated, always parameters.
 * `fragments` are further placeholders whose SQL the caller builds from trusted parts only (a
 * relation name, a boolean or integer literal); a placeholder nobody defines is an error.
 */
export function renderSql(text: string, schemas: SchemaNames, fragments: Readonly<Record<string, string>> = {}): string {
  return text.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (match, key: string) => {
    if (key === 'mart' || key === 'raw' || key === 'staging') return quoteIdentifier(schemas[key]);
    const fragment = fragments[key];
    if (fragment === undefined) throw new Error(`SQL placeholder ${match} has no value`);
    return fragment;
  });
}

export async function readSqlTemplate(relativePath: string): Promise<string> {
  return readFile(path.join(SQL_ROOT, relativePath), 'utf8');
}

export async function readSql(relativePath: string, schemas: SchemaNames, fragments: Readonly<Record<string, string>> = {}): Promise<string> {
  return renderSql(await readSqlTemplate(relativePath), schemas, fragments);
}

/** The .sql files of a folder in name order (their numeric prefixes give the order). */
export async function listSqlFiles(relativeDir: string): Promise<string[]> {
  const names = await readdir(path.join(SQL_ROOT, relativeDir));
  return names.filter((n) => n.endsWith('.sql')).sort();
}
