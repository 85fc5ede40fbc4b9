import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import { ENVIRONMENT_VARIABLES } from '../../src/config/settings.js';

describe('the CLI options', () => {
  const program = buildProgram();
  const options = program.commands.flatMap((command) => command.options.map((option) => ({ command: command.name(), flag: option.long ?? '', description: option.description })));

  it('name, in their help, the environment variables and defaults of the settings table (src/config/settings.ts)', () => {
    const withEnv = options.filter((o) => o.description.includes('(env '));
    expect(withEnv.map((o) => o.flag)).toEqual(expect.arrayContaining(['--database-url', '--data-dir', '--lock-timeout', '--input', '--max-reject-ratio']));
    for (const option of withEnv) {
      const [, name, defaultValue] = /\(env ([A-Z0-9_]+)(?:[^)]*?default ([^;,)\s]+))?/.exec(option.description) ?? [];
      const variable = ENVIRONMENT_VARIABLES.find((v) => v.name === name);
      expect(variable, `${option.command} ${option.flag}: ${name}`).toBeDefined();
      expect(variable?.option, `${option.command} ${option.flag}: the option the table names for ${name}`).toBe(option.flag);
      if (defaultValue !== undefined) expect(defaultValue, `${option.command} ${option.flag}`).toBe(variable?.default);
    }
  });

  it('are declared once: every command takes the common options with the same help', () => {
    for (const flag of ['--database-url', '--data-dir', '--lock-timeout', '--json', '--verbose']) {
      const declared = options.filter((o) => o.flag === flag);
      expect(declared.map((o) => o.command)).toEqual(program.commands.map((c) => c.name()));
      expect(new Set(declared.map((o) => o.description)).size).toBe(1);
    }
  });
});
