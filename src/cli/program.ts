import { Command } from 'commander';
import { addConfigCommand } from './commands/config.js';
import { addGenerateCommand } from './commands/generate.js';
import { addIngestCommand } from './commands/ingest.js';
import { addMigrateCommand } from './commands/migrate.js';
import { addModelCommand } from './commands/model.js';
import { addReportCommand } from './commands/report.js';
import { addResetCommand } from './commands/reset.js';
import { addRunCommand } from './commands/run.js';
import { addSnapshotCommand } from './commands/snapshot.js';
import { addSqlCommand } from './commands/sql.js';
import { addTestCommand } from './commands/test.js';

/** The commands in the order --help lists them. */
const COMMANDS = [
  addRunCommand,
  addIngestCommand,
  addModelCommand,
  addSnapshotCommand,
  addTestCommand,
  addReportCommand,
  addMigrateCommand,
  addResetCommand,
  addSqlCommand,
  addGenerateCommand,
  addConfigCommand,
];

/** The `instapro` program: its help, usage-error handling and every command (src/cli/commands/). */
export function buildProgram(): Command {
  const program = new Command('instapro')
    .description('ELT pipeline for the instapro event log: ingest → model → availability snapshot → data tests')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    // Set before the commands are added: program.command() copies these settings into each command.
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text.startsWith('error:') ? `instapro: ${text}` : text) })
    .addHelpText(
      'after',
      `
Backends: a PostgreSQL server via --database-url / INSTAPRO_DATABASE_URL / INSTAPRO_DB_HOST,
otherwise the embedded database (PGlite) in --data-dir (default .instapro/db).

Exit codes: 0 ok, 1 internal error, 2 usage, 3 configuration, 4 input file, 5 reject ratio
exceeded, 6 data tests failed, 7 database unreachable, 8 pipeline lock not acquired within
--lock-timeout, 9 input storage (S3) unreachable, 130/143 stopped by SIGINT/SIGTERM.`,
    );
  for (const addCommand of COMMANDS) addCommand(program);
  return program;
}
