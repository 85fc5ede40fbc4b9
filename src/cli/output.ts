import { inspect } from 'node:util';
import { redactUrl } from '../config/settings.js';
import { EXIT_CODES, PipelineError } from '../util/errors.js';
import type { CommonOptions } from './options.js';
import { writeStderr, writeStdout } from './stdout.js';

/** Everything a command reports; printed as the --json line. */
export type Summary = Record<string, unknown> & { status: 'succeeded' | 'failed' };

/** What a command prints: lines for a person, diagnostics, and the --json summary it fills in. */
export class Output {
  readonly summary: Summary = { status: 'succeeded' };

  constructor(readonly options: CommonOptions) {}

  /** A line for a person on stdout; suppressed with --json. */
  say(text: string): void {
    if (!this.options.json) writeStdout(`${text}\n`);
  }

  /** Diagnostics on stderr (retries, waiting for a lock); suppressed with --json. */
  log = (message: string): void => {
    if (!this.options.json) writeStderr(`instapro: ${redactUrl(message)}\n`);
  };
}

/** Runs a command body; turns failures into one stderr line, the --json line and an exit code. */
export async function finish(out: Output, body: () => Promise<void>, { printSummary = true } = {}): Promise<void> {
  try {
    await body();
  } catch (error) {
    const known = error instanceof PipelineError;
    // Not every thrown value is an Error (PGlite throws plain objects): never "[object Object]".
    const message = redactUrl(error instanceof Error ? error.message : inspect(error, { depth: 2, breakLength: Infinity }));
    out.summary.status = 'failed';
    out.summary.error = message;
    out.summary.exit_code = known ? error.exitCode : EXIT_CODES.internal;
    process.exitCode = out.summary.exit_code as number;
    writeStderr(`instapro: error: ${message}\n`);
    if (!known && out.options.verbose && error instanceof Error && error.stack) writeStderr(`${redactUrl(error.stack)}\n`);
    else if (!known) writeStderr('instapro: this is unexpected; run again with --verbose for details\n');
  }
  if (printSummary && out.options.json) writeStdout(`${JSON.stringify(out.summary)}\n`);
}
