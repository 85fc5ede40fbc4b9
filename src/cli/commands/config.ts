import type { Command } from 'commander';
import { ENVIRONMENT_VARIABLES, redactedSettings } from '../../config/settings.js';
import type { CommonOptions } from '../options.js';
import { settingsFrom, withCommonOptions } from '../options.js';
import { Output, finish } from '../output.js';
import { writeStdout } from '../stdout.js';

/** `instapro config`: the resolved settings (secrets masked), or the variables the CLI reads. */
export function addConfigCommand(program: Command): void {
  withCommonOptions(
    program.command('config').description('print the resolved configuration (secrets masked)').option('--env-vars', 'list the environment variables the CLI reads'),
  ).action(async (options: CommonOptions & { envVars?: boolean }) => {
    const out = new Output(options);
    await finish(
      out,
      async () => {
        if (options.envVars) {
          if (options.json) writeStdout(`${JSON.stringify(ENVIRONMENT_VARIABLES)}\n`);
          else for (const v of ENVIRONMENT_VARIABLES) out.say(`${v.name.padEnd(32)} ${v.secret ? 'secret ' : 'config '} ${v.description}${v.default ? ` (default ${v.default})` : ''}`);
          return;
        }
        const settings = redactedSettings(settingsFrom(options));
        out.summary.config = settings;
        for (const [key, value] of Object.entries(settings)) out.say(`${key}: ${JSON.stringify(value)}`);
      },
      { printSummary: !options.envVars },
    );
  });
}
