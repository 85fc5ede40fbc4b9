import type { Command } from 'commander';
import { migrate } from '../../db/migrate.js';
import { schemaNames } from '../../pipeline/context.js';
import type { CommonOptions } from '../options.js';
import { withCommonOptions } from '../options.js';
import { Output, finish } from '../output.js';
import { withLockedDatabase } from '../steps.js';

/** `instapro migrate`: pending migrations only (every pipeline command applies them first anyway). */
export function addMigrateCommand(program: Command): void {
  withCommonOptions(program.command('migrate').description('apply pending schema migrations')).action(async (options: CommonOptions) => {
    const out = new Output(options);
    await finish(out, () =>
      withLockedDatabase(options, out, async (db, settings) => {
        const result = await migrate(db, schemaNames(settings));
        out.summary.migrations = result;
        out.say(result.applied.length > 0 ? `applied ${result.applied.join(', ')}` : `up to date (${result.alreadyApplied} migrations applied earlier)`);
      }),
    );
  });
}
