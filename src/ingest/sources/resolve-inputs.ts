import type { Settings } from '../../config/settings.js';
import { ConfigurationError } from '../../util/errors.js';
import type { InputObject } from './input-object.js';
import { resolveLocalInput } from './local.js';
import type { S3Store } from './s3.js';

const S3_SCHEME = 's3://';

/**
 * The objects behind `--input` / INSTAPRO_INPUT, in order: each input's objects sorted by path or
 * key, inputs in the order given, an object named twice loaded once. Only names and sizes are
 * listed here; nothing is read.
 */
export async function resolveInputs(settings: Settings, inputs: readonly string[], log: (message: string) => void = () => undefined): Promise<InputObject[]> {
  if (inputs.length === 0) throw new ConfigurationError('no input: pass --input FILE|DIR|GLOB|s3://bucket/prefix or set INSTAPRO_INPUT');
  let store: S3Store | undefined;
  const objects: InputObject[] = [];
  const seen = new Set<string>();
  for (const input of inputs) {
    // s3.js is imported on first use: loading the AWS SDK would cost runs without S3 input a few hundred ms.
    const resolved = input.startsWith(S3_SCHEME) ? await (store ??= new (await import('./s3.js')).S3Store(settings, log)).resolve(input) : await resolveLocalInput(input);
    for (const object of resolved) {
      if (seen.has(object.url)) continue;
      seen.add(object.url);
      objects.push(object);
    }
  }
  return objects;
}
