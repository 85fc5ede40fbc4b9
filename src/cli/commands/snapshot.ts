import type { Command } from 'commander';
import type { CommonOptions } from '../options.js';
import { fromOption, fullRefreshOption, toOption, withCommonOptions } from '../options.js';
import { Output, finish } from '../output.js';
import { snapshotStep, withSession } from '../steps.js';

/** `instapro snapshot`: the snapshot step alone, for the days that changed or a range. */
export function addSnapshotCommand(program: Command): void {
  withCommonOptions(
    program
      .command('snapshot')
      .description('compute instapro.availability_snapshot: the days the model builds changed since it last ran, or a range of days')
      .addOption(fromOption())
      .addOption(toOption())
      .addOption(fullRefreshOption('recompute every day from the first to the last event date')),
  ).action(async (options: CommonOptions & { from?: string; to?: string; fullRefresh?: boolean }) => {
    const out = new Output(options);
    await finish(out, () => withSession('snapshot', options, out, (session) => snapshotStep(session, out, options)));
  });
}
