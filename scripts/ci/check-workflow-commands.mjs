#!/usr/bin/env node
// Every `run:` line of the workflow must be a command that .ci/run also runs (directly or via
// scripts/test-all.sh), so the GitHub workflow cannot drift from what is tested locally.
// Allowed: `npm ci …`; `npm run <script>` and `bash <script>` that appear verbatim in .ci/run or
// scripts/test-all.sh; `make -C deploy/kind <targets>` for targets the kind Makefile defines
// (they need Docker and a cluster, so they run only in the workflow; the Makefile is checked by
// deploy/scripts/test-deploy.sh).
import { readFileSync, existsSync } from 'node:fs';
import { parse } from 'yaml';

const workflowFile = process.argv[2] ?? '.github/workflows/ci.yml';
const localRunners = ['.ci/run', 'scripts/test-all.sh'].map((f) => readFileSync(f, 'utf8')).join('\n');
const kindMakefile = existsSync('deploy/kind/Makefile') ? readFileSync('deploy/kind/Makefile', 'utf8') : '';
const makeTargets = new Set([...kindMakefile.matchAll(/^([A-Za-z0-9_.-]+):/gm)].map((m) => m[1]));

function problemWith(line) {
  if (/^npm ci(\s|$)/.test(line)) return localRunners.includes('npm ci') ? null : '.ci/run does not run npm ci';
  let m = /^npm run ([\w:.-]+)$/.exec(line);
  if (m) return localRunners.includes(`npm run ${m[1]}`) ? null : `npm run ${m[1]} is not run by .ci/run or scripts/test-all.sh`;
  m = /^bash ([\w./-]+)$/.exec(line);
  if (m) {
    if (!existsSync(m[1])) return `${m[1]} does not exist`;
    return localRunners.includes(m[1]) ? null : `${m[1]} is not run by .ci/run or scripts/test-all.sh`;
  }
  m = /^make -C deploy\/kind ((?:[\w.-]+\s*)+)$/.exec(line);
  if (m) {
    const missing = m[1].trim().split(/\s+/).filter((t) => !makeTargets.has(t));
    return missing.length === 0 ? null : `deploy/kind/Makefile has no target ${missing.join(', ')}`;
  }
  return 'not an npm script, a repository script or a kind Makefile target';
}

const workflow = parse(readFileSync(workflowFile, 'utf8'));
const problems = [];
let checked = 0;
for (const [jobName, job] of Object.entries(workflow.jobs ?? {})) {
  for (const step of job.steps ?? []) {
    if (typeof step.run !== 'string') continue;
    for (const raw of step.run.split('\n')) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) continue;
      checked += 1;
      const problem = problemWith(line);
      if (problem) problems.push(`${workflowFile}: job ${jobName}: "${line}": ${problem}`);
    }
  }
}
for (const p of problems) console.error(p);
console.log(`workflow commands: ${checked - problems.length} passed, ${problems.length} failed`);
process.exitCode = problems.length === 0 ? 0 : 1;
