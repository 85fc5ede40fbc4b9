import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';

/** Chart.js as the report inlines it: its UMD build, which defines `window.Chart`. */
export interface ChartJsAsset {
  version: string;
  source: string;
}

const require = createRequire(import.meta.url);

/**
 * Reads Chart.js 4's UMD build from node_modules (a production dependency, so it is in the
 * runtime image). The package's "exports" do not list dist/chart.umd.js, so it is found next to
 * the package's CommonJS entry point (dist/chart.cjs). The trailing source-map comment is dropped:
 * the report ships no map, and a browser's devtools would otherwise look for one.
 */
export async function loadChartJs(): Promise<ChartJsAsset> {
  const entry = require.resolve('chart.js');
  const dist = path.dirname(entry);
  const packageJson = JSON.parse(await readFile(path.join(dist, '..', 'package.json'), 'utf8')) as { version: string };
  const source = (await readFile(path.join(dist, 'chart.umd.js'), 'utf8')).replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, '\n');
  return { version: packageJson.version, source };
}
