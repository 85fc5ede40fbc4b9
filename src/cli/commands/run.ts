import type { Command } from 'commander';
import { scopeAfterBuild } from '../../quality/compile-tests.js';
import type { DataTestReport } from '../../quality/run-data-tests.js';
import type { ShownDataTests } from '../../report/report-data.js';
import { checkReportTarget } from '../../report/write-report.js';
import { DataTestsFailedError } from '../../util/errors.js';
import type { CommonOptions, InputOptions } from '../options.js';
import { fromOption, fullRefreshOption, inputOption, maxRejectRatioOption, toOption, withCommonOptions } from '../options.js';
import { Output, finish } from '../output.js';
import { ingestStep, modelStep, reportStep, snapshotStep, testStep, withSession } from '../steps.js';

interface RunOptions extends CommonOptions, InputOptions {
  from?: string;
  to?: string;
  fullRefresh?: boolean;
  report?: string;
}

/** `instapro run`: every step in order, incremental after the first build. */
export function addRunCommand(program: Command): void {
  withCommonOptions(
    program
      .command('run')
      .description('run every step in order: ingest, model, snapshot, test (incremental after the first build)')
      .addOption(inputOption())
      .addOption(maxRejectRatioOption())
      .addOption(fromOption())
      .addOption(toOption())
      .addOption(fullRefreshOption('rebuild the model and the snapshot from every loaded event and run every data test on every row; without --input, nothing is ingested'))
      .option('--report <file>', 'after the test step, write the HTML report (see `instapro report`) to this file, also when data tests fail'),
  ).action(async (options: RunOptions) => {
    const out = new Output(options);
    await finish(out, async () => {
      // A report path that cannot be written fails before anything runs.
      if (options.report) await checkReportTarget(options.report);
      await withSession('run', options, out, async (session) => {
        // A full refresh rebuilds from what is loaded: an input is optional there, required elsewhere.
        if (!options.fullRefresh || session.ctx.settings.input.length > 0) await ingestStep(session, out);
        const model = await modelStep(session, out, { fullRefresh: options.fullRefresh });
        const range = options.from !== undefined || options.to !== undefined;
        await snapshotStep(session, out, range ? { from: options.from, to: options.to } : { fullRefresh: options.fullRefresh });
        const scope = scopeAfterBuild(model.after_run_id);
        const testsStarted = new Date();
        let tests: DataTestReport | undefined;
        let gateFailure: unknown;
        try {
          tests = await testStep(session, out, scope);
        } catch (error) {
          gateFailure = error;
          if (error instanceof DataTestsFailedError) tests = error.report;
        }
        // Written also when the gate fails, so the failing tests can be inspected in it; the
        // gate's failure stays the run's outcome (exit 6) even if the report cannot be written.
        // It shows the test step's results rather than running the tests a second time.
        if (options.report) {
          const shown: ShownDataTests | undefined = tests && { source: 'run', ran_at: testsStarted.toISOString(), duration_ms: Date.now() - testsStarted.getTime(), report: tests };
          try {
            await reportStep(session, out, options.report, shown);
          } catch (error) {
            if (gateFailure === undefined) throw error;
            out.log(`the report was not written: ${(error as Error).message}`);
          }
        }
        if (gateFailure !== undefined) throw gateFailure;
      });
    });
  });
}
