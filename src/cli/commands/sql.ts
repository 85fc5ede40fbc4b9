import type { Command } from 'commander';
import { Option } from 'commander';
import { openDatabase } from '../../db/open.js';
import { formatRows } from '../format-rows.js';
import type { OutputFormat } from '../format-rows.js';
import type { CommonOptions } from '../options.js';
import { settingsFrom, withCommonOptions } from '../options.js';
import { Output, finish } from '../output.js';
import { writeStdout } from '../stdout.js';
import { runUserSql } from '../user-sql.js';

/** `instapro sql`: one statement against the configured database, read-only unless --write. */
export function addSqlCommand(program: Command): void {
  withCommonOptions(
    program
      .command('sql')
      .description('run one SQL statement against the configured database and print the rows (read-only unless --write)')
      .argument('<query>', 'one SQL statement, e.g. "select * from instapro.availability_snapshot limit 5"')
      .addOption(new Option('-f, --format <format>', 'output format').choices(['table', 'csv', 'json']).default('table'))
      .option('--write', 'allow the statement to change data or schemas (default: it runs in a read-only transaction)'),
  ).action(async (query: string, options: CommonOptions & { format: OutputFormat; write?: boolean }) => {
    const out = new Output(options);
    await finish(out, async () => {
      const db = await openDatabase(settingsFrom(options), { log: out.log });
      try {
        const result = await runUserSql(db, query, { write: options.write === true });
        if (options.json) Object.assign(out.summary, { fields: result.fields, rows: result.rows, row_count: result.rows.length });
        else writeStdout(`${formatRows(result, options.format)}\n`);
      } finally {
        await db.close();
      }
    });
  });
}
