import type { Command } from 'commander';
import { readModelState } from '../../model/model-state.js';
import { scopeAfterBuild } from '../../quality/compile-tests.js';
import type { CommonOptions } from '../options.js';
import { withCommonOptions } from '../options.js';
import { Output, finish } from '../output.js';
import { testStep, withSession } from '../steps.js';

/** `instapro test`: the data tests alone, on every row or (--incremental) as `run` scopes them. */
export function addTestCommand(program: Command): void {
  withCommonOptions(
    program
      .command('test')
      .description('run the schema and data tests declared in sql/models/schema.yml, on every row')
      .option('--incremental', 'after an incremental model build, check the rows it merged where schema.yml says how (as `run` does); every row after a full refresh'),
  ).action(async (options: CommonOptions & { incremental?: boolean }) => {
    const out = new Output(options);
    await finish(out, () =>
      withSession('test', options, out, async (session) => {
        const state = options.incremental ? await readModelState(session.ctx.db, session.ctx.schemas) : null;
        await testStep(session, out, scopeAfterBuild(state?.incrementAfterRunId ?? null));
      }),
    );
  });
}
