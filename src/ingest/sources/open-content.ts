import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { Transform } from 'node:stream';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { EVENT_LOG_DELIMITER, EVENT_LOG_HEADER } from '../event-log-format.js';
import { InputFileError, InputStorageUnavailableError, PipelineError } from '../../util/errors.js';
import type { InputObject } from './input-object.js';

const HEADER_PROBE_BYTES = 64 * 1024;

/** What one pass over an object's stored bytes has seen: their count and SHA-256 so far. */
export class StoredBytes {
  bytes = 0;
  private readonly hash: Hash = createHash('sha256');

  add(chunk: Buffer): void {
    this.bytes += chunk.length;
    this.hash.update(chunk);
  }

  sha256(): string {
    return this.hash.digest('hex');
  }
}

/**
 * The event log's bytes as chunks (decompressed for gzip), counted and hashed as stored on the
 * way. Any failure of the source or the decompression is a PipelineError naming the object's url.
 */
export async function* eventLogContent(object: InputObject, stored: StoredBytes, options: { firstBytes?: number } = {}): AsyncGenerator<Buffer> {
  const source = await object.open(object.gzip ? {} : options);
  const content: AsyncIterable<Buffer> = object.gzip ? gunzipCounted(source, stored) : source;
  try {
    for await (const chunk of content) {
      if (!object.gzip) stored.add(chunk);
      yield chunk;
    }
  } catch (error) {
    throw readFailure(object, error, stored.bytes);
  } finally {
    source.destroy();
  }
}

/** Plain files are counted as they are read (no stream in between, which would cost a copy per chunk). */
function gunzipCounted(source: Readable, stored: StoredBytes): Readable {
  const gunzip = createGunzip({ chunkSize: 128 * 1024 });
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      stored.add(chunk);
      done(null, chunk);
    },
  });
  // Errors surface on `gunzip`, where the reader iterates; pipeline's own promise only mirrors them.
  pipeline(source, counter, gunzip).catch(() => undefined);
  return gunzip;
}

function readFailure(object: InputObject, error: unknown, bytes: number): PipelineError {
  if (error instanceof PipelineError) return error;
  const code = (error as { code?: string }).code ?? '';
  if (code.startsWith('Z_') || code === 'ERR_ZLIB_INITIALIZATION_FAILED') {
    return new InputFileError(`${object.url}: not a readable gzip file (${(error as Error).message}); nothing of it was loaded`);
  }
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') return new InputFileError(`${object.url}: ${(error as Error).message}`);
  return new InputStorageUnavailableError(`${object.url}: reading failed after ${bytes} bytes (${code || (error as Error).name}); nothing of it was loaded, run again`);
}

/**
 * Whole-object checks before anything is loaded: not empty and the expected header on line 1.
 * Reads only the first bytes (a ranged read for S3; for gzip, decompressing stops there too).
 */
export async function checkEventLogHeader(object: InputObject): Promise<void> {
  if (object.size === 0) throw new InputFileError(`${object.url}: file is empty (expected the header ${EVENT_LOG_HEADER.join(EVENT_LOG_DELIMITER)})`);
  const chunks: Buffer[] = [];
  let length = 0;
  const content = eventLogContent(object, new StoredBytes(), { firstBytes: HEADER_PROBE_BYTES });
  for await (const chunk of content) {
    chunks.push(chunk);
    length += chunk.length;
    if (chunk.includes(0x0a) || length >= HEADER_PROBE_BYTES) break;
  }
  const text = Buffer.concat(chunks).subarray(0, HEADER_PROBE_BYTES).toString('utf8').replace(/^\uFEFF/, '');
  if (text === '') throw new InputFileError(`${object.url}: file is empty (expected the header ${EVENT_LOG_HEADER.join(EVENT_LOG_DELIMITER)})`);
  const firstLine = (text.split('\n', 1)[0] ?? '').replace(/\r$/, '');
  const expected = EVENT_LOG_HEADER.join(EVENT_LOG_DELIMITER);
  if (firstLine !== expected) {
    throw new InputFileError(`${object.url}:1: wrong header: expected ${JSON.stringify(expected)}, found ${JSON.stringify(firstLine.slice(0, 200))}`);
  }
}
