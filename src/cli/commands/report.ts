import type { Command } from 'commander';
import type { CommonOptions } from '../options.js';
import { withCommonOptions } from '../options.js';
import { Output, finish } from '../output.js';
import { reportStep, withSession } from '../steps.js';

/** `instapro report`: the HTML report of what is loaded and built. */
export function addReportCommand(program: Command): void {
  withCommonOptions(
    program
      .command('report')
      .description('write a self-contained HTML report: daily/weekly/monthly active professionals, latest ingest, table counts, data tests (run now, shown, not a gate)')
      .requiredOption('-o, --out <file>', 'HTML file to write'),
  ).action(async (options: CommonOptions & { out: string }) => {
    const out = new Output(options);
    await finish(out, () => withSession('report', options, out, (session) => reportStep(session, out, options.out)));
  });
}
