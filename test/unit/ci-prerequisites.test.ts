/**
 * scripts/ci/check-prerequisites.sh, run first by .ci/run: on a machine without the tools, one
 * message names every one missing and the run stops (exit 1) before doing anything.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPT = path.resolve(import.meta.dirname, '../../scripts/ci/check-prerequisites.sh');
const bin = mkdtempSync(path.join(tmpdir(), 'instapro-prerequisites-'));
afterAll(() => rmSync(bin, { recursive: true, force: true }));

/** Runs the check with only `bin` on PATH (bash's builtins still work). */
const check = () => spawnSync('/bin/bash', [SCRIPT], { env: { PATH: bin }, encoding: 'utf8' });

describe('check-prerequisites', () => {
  it('names everything missing in one message and exits 1', () => {
    const result = check();
    expect(result.status).toBe(1);
    const listed = result.stderr.split('\n').filter((line) => line.startsWith('  - '));
    // Not asserted, as they depend on the machine: Chromium at /usr/bin/chromium, root.
    for (const what of ['Node.js 20.11 or later', 'npm', 'Python 3.11', 'python3 with venv', 'Go (go)', 'make', 'curl', 'flock', 'a PostgreSQL server']) {
      expect(listed.some((line) => line.startsWith(`  - ${what}`)), `${what} in\n${result.stderr}`).toBe(true);
    }
    expect(result.stderr).toContain('PyPI and the Go module proxy');
    expect(result.stdout).toBe('');
  });

  it('names a Node.js older than 20.11 with its version', () => {
    const fake = (name: string, body: string) => {
      writeFileSync(path.join(bin, name), `#!/bin/bash\n${body}\n`);
      chmodSync(path.join(bin, name), 0o755);
    };
    fake('node', 'if [ "$1" = -p ]; then echo 20.10.0; else exit 1; fi');
    fake('npm', 'exit 0');
    const result = check();
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('  - Node.js 20.11 or later (node is 20.10.0)');
    expect(result.stderr).not.toMatch(/^ {2}- npm$/m);
  });
});
