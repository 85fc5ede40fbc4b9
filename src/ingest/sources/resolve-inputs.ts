import type { Settings } from '../../config/settings.js';
import { ConfigurationError } from '../../util/errors.js';
import type { InputObject } from './input-object.js';
import { resolveLocalInput } from './local.js';
import { S3Store, S3_SCHEME } from './s3.js';

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
    const resolved = input.startsWith(S3_SCHEME) ? await (store ??= new S3Store(settings, log)).resolve(input) : await resolveLocalInput(input);
    for (const object of resolved) {
      if (seen.has(object.url)) continue;
      seen.add(object.url);
      objects.push(object);
    }
  }
  return objects;
}
