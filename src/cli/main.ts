#!/usr/bin/env node
/**
 * The `instapro` command line: every pipeline step, ad-hoc SQL and the sample generator, one
 * module per command in src/cli/commands/. Output contract: a human summary on stdout (or, with
 * --json, one JSON object on the last line), diagnostics on stderr, documented exit codes
 * (README, "Exit codes").
 */
import { CommanderError } from 'commander';
import { EXIT_CODES } from '../util/errors.js';
import { buildProgram } from './program.js';
import { tolerateClosedOutput } from './stdout.js';

/**
 * Explicit handlers, because as PID 1 in a container a process has no default ones: SIGTERM would
 * be ignored, also while waiting for a lock. Exiting releases every lock (the kernel closes the
 * lock file; the server ends the session) and abandons the open transaction, as a kill would.
 */
function exitOnSignals(): void {
  const exitCodes = { SIGINT: 130, SIGTERM: 143 } as const;
  for (const [signal, code] of Object.entries(exitCodes)) {
    process.once(signal, () => {
      process.stderr.write(`instapro: stopped by ${signal}\n`);
      process.exit(code);
    });
  }
}

async function main(): Promise<void> {
  exitOnSignals();
  const program = buildProgram();
  // `instapro | head` closes stdout early: that is the reader's choice, and it stops the output only.
  tolerateClosedOutput();
  if (process.argv.length <= 2) {
    // No command: show what there is, but do not pretend something ran.
    process.stderr.write(program.helpInformation());
    process.exitCode = EXIT_CODES.usage;
    return;
  }
  try {
    await program.parseAsync(process.argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      const success = error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help';
      process.exitCode = success ? EXIT_CODES.ok : EXIT_CODES.usage;
      return;
    }
    throw error;
  }
}

await main();
