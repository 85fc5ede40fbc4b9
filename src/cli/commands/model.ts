import type { Command } from 'commander';
import type { CommonOptions } from '../options.js';
import { fullRefreshOption, withCommonOptions } from '../options.js';
import { Output, finish } from '../output.js';
import { modelStep, withSession } from '../steps.js';

/** `instapro model`: the model step alone. */
export function addModelCommand(program: Command): void {
  withCommonOptions(
    program
      .command('model')
      .description('build the star schema from the raw layer: merge the events loaded since the last build, or rebuild everything the first time')
      .addOption(fullRefreshOption('rebuild every table from every loaded event')),
  ).action(async (options: CommonOptions & { fullRefresh?: boolean }) => {
    const out = new Output(options);
    await finish(out, () => withSession('model', options, out, async (session) => void (await modelStep(session, out, { fullRefresh: options.fullRefresh }))));
  });
}
