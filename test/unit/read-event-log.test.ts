import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEventLogLines } from '../../src/ingest/read-event-log.js';

/** A buffer delivered in chunks of `size` bytes, as a gunzip or an S3 body delivers chunks of any size. */
async function* inChunks(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let offset = 0; offset < bytes.length; offset += size) yield bytes.subarray(offset, offset + size);
}

/** Every line the reader yields from a file (or from its bytes in chunks of `chunkSize`), as [line number, text, overlong byte count]. */
async function readAll(file: string, chunkSize?: number): Promise<[number, string, number | undefined][]> {
  const lines: [number, string, number | undefined][] = [];
  const content = chunkSize === undefined ? createReadStream(file) : inChunks(await readFile(file), chunkSize);
  for await (const batch of readEventLogLines(content)) {
    for (let i = 0; i < batch.count; i++) {
      lines.push([batch.firstLine + i, batch.bytes.toString('latin1', batch.starts[i], batch.ends[i]), batch.overlongBytes]);
    }
  }
  return lines;
}

/** The same, the obvious way: the whole file split at LF, one CR before it dropped, the header skipped. */
function expectedLines(content: string): [number, string, undefined][] {
  const parts = content.split('\n');
  if (parts.at(-1) === '') parts.pop(); // after the last line break there is no line
  return parts.map((text, index): [number, string, undefined] => [index + 1, text.endsWith('\r') ? text.slice(0, -1) : text, undefined]).slice(1);
}

describe('readEventLogLines', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'instapro-reader-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('yields every physical line with its number, whatever falls on a read boundary', async () => {
    // Files of a few hundred KB cross the 128 KB reads several times; lines of every length
    // (including ones longer than a read), LF and CRLF, blank lines, a CR alone inside a line,
    // and a last line with or without a line break.
    const lineText = fc.oneof(
      { arbitrary: fc.string({ unit: fc.constantFrom('a', ';', '_', '1', ' ', '\r', 'é'), maxLength: 120 }), weight: 400 },
      { arbitrary: fc.integer({ min: 1_000, max: 300_000 }).map((n) => 'x'.repeat(n)), weight: 1 },
    );
    const file = fc.record({
      lines: fc.array(fc.tuple(lineText, fc.constantFrom('\n', '\r\n')), { minLength: 1, maxLength: 8_000, size: 'max' }),
      finalBreak: fc.boolean(),
      chunkSize: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1_000, max: 400_000 })),
    });
    let n = 0;
    let crossingReads = 0;
    await fc.assert(
      fc.asyncProperty(file, async ({ lines, finalBreak, chunkSize }) => {
        let content = lines.map(([text, eol]) => text + eol).join('');
        if (!finalBreak) content = content.replace(/\r?\n$/, '');
        const target = path.join(dir, `f${n++}.csv`);
        await writeFile(target, content, 'latin1');
        const expected = expectedLines(content);
        expect(await readAll(target)).toEqual(expected);
        expect(await readAll(target, chunkSize)).toEqual(expected);
        await rm(target);
        if (content.length > 2 * 128 * 1024) crossingReads += 1;
      }),
      { numRuns: 40 },
    );
    expect(crossingReads).toBeGreaterThan(10); // the property is not only tried on small files
  }, 30_000);

  it('yields a line too long to hold as its start and its length, and the lines after it', async () => {
    const long = 'y'.repeat(3 * 1024 * 1024);
    const target = path.join(dir, 'long.csv');
    await writeFile(target, `header\nfirst\r\n${long}\r\nafter\nlast`, 'latin1');
    const lines = await readAll(target);
    expect(lines.map(([line, text, overlong]) => [line, text.length, overlong])).toEqual([
      [2, 5, undefined],
      [3, 1024 * 1024, long.length],
      [4, 5, undefined],
      [5, 4, undefined],
    ]);
  });
});
