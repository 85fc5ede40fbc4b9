import type { Command } from 'commander';
import { GENERATE_DEFAULTS, writeEventLog } from '../../generate/generate-event-log.js';
import type { CommonOptions } from '../options.js';
import { positiveInteger, withCommonOptions } from '../options.js';
import { Output, finish } from '../output.js';

interface GenerateOptions extends CommonOptions {
  events: number;
  out: string;
  seed: number;
  start: string;
  days: number;
}

/** `instapro generate`: a deterministic event log (made the bundled sample). */
export function addGenerateCommand(program: Command): void {
  withCommonOptions(
    program
      .command('generate')
      .description('write a realistic, deterministic event log (same seed, same file)')
      .requiredOption('-n, --events <count>', 'number of events', positiveInteger('--events'))
      .requiredOption('-o, --out <file>', 'output file')
      .option('-s, --seed <seed>', 'random seed', positiveInteger('--seed'), GENERATE_DEFAULTS.seed)
      .option('--start <date>', 'first day of the period', GENERATE_DEFAULTS.start)
      .option('--days <days>', 'length of the period in days', positiveInteger('--days'), GENERATE_DEFAULTS.days),
  ).action(async (options: GenerateOptions) => {
    const out = new Output(options);
    await finish(out, async () => {
      const result = await writeEventLog(options.out, { events: options.events, seed: options.seed, start: options.start, days: options.days });
      out.summary.generate = { file: options.out, ...result, seed: options.seed };
      out.say(`wrote ${result.events} events to ${options.out} (seed ${options.seed})`);
    });
  });
}
