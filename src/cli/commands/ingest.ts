import type { Command } from 'commander';
import type { CommonOptions, InputOptions } from '../options.js';
import { inputOption, maxRejectRatioOption, withCommonOptions } from '../options.js';
import { Output, finish } from '../output.js';
import { ingestStep, withSession } from '../steps.js';

/** `instapro ingest`: the ingest step alone. */
export function addIngestCommand(program: Command): void {
  withCommonOptions(
    program
      .command('ingest')
      .description('load event log files into the raw layer (validated, deduplicated, idempotent)')
      .addOption(inputOption())
      .addOption(maxRejectRatioOption()),
  ).action(async (options: CommonOptions & InputOptions) => {
    const out = new Output(options);
    await finish(out, () => withSession('ingest', options, out, async (session) => void (await ingestStep(session, out))));
  });
}
