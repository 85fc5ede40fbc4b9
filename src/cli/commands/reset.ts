import { readdir } from 'node:fs/promises';
import type { Command } from 'commander';
import { databaseTarget, describeTarget } from '../../config/settings.js';
import { schemaNames } from '../../pipeline/context.js';
import { pipelineSchemas, resetPipeline } from '../../pipeline/reset.js';
import { UsageError } from '../../util/errors.js';
import { confirm } from '../confirm.js';
import type { CommonOptions } from '../options.js';
import { settingsFrom, withCommonOptions } from '../options.js';
import { Output, finish } from '../output.js';
import { withLockedDatabase } from '../steps.js';

/** `instapro reset`: drops what the pipeline created, to start over (docs/ingest.md). */
export function addResetCommand(program: Command): void {
  withCommonOptions(
    program
      .command('reset')
      .description('drop everything the pipeline created in the configured database (its three schemas), to start over; asks first unless --yes')
      .option('-y, --yes', 'do not ask for confirmation (required when stdin is not a terminal)'),
  ).action(async (options: CommonOptions & { yes?: boolean }) => {
    const out = new Output(options);
    await finish(out, async () => {
      const settings = settingsFrom(options);
      const target = databaseTarget(settings);
      const schemas = pipelineSchemas(schemaNames(settings));
      out.summary.database = describeTarget(target);
      // Asked before anything is opened: a refusal leaves the database (and a missing data directory) as it was.
      if (!options.yes) {
        const what = `the schemas ${schemas.join(', ')} and everything in them from ${describeTarget(target)}`;
        if (!process.stdin.isTTY) throw new UsageError(`instapro reset would drop ${what}, and stdin is not a terminal to confirm it on; run \`instapro reset --yes\` to reset without asking`);
        if (!(await confirm(`Drop ${what}? [y/N] `, process.stdin, process.stderr))) throw new UsageError('reset cancelled; nothing was dropped');
      }
      // An embedded database that does not exist yet has nothing to drop: not created just to say so.
      const result =
        target.kind === 'embedded' && !(await hasEntries(target.dataDir)) ? { dropped: [] } : await withLockedDatabase(options, out, (db) => resetPipeline(db, schemaNames(settings)));
      out.summary.reset = result;
      out.say(
        result.dropped.length > 0
          ? `dropped ${result.dropped.join(', ')} from ${describeTarget(target)}; the next run starts from an empty database`
          : `nothing to reset: ${describeTarget(target)} holds none of the schemas ${schemas.join(', ')}`,
      );
    });
  });
}

async function hasEntries(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length > 0;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
