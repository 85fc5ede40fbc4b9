import { describe, expect, it } from 'vitest';
import { CopyBuffer, copyTextField } from '../../src/ingest/copy-text.js';

describe('copyTextField', () => {
  it('escapes what COPY text would otherwise read as syntax, and nothing else', () => {
    expect(copyTextField('a\\b;c\nd\re "f" é\t')).toBe('a\\\\b\\;c\\nd\\re "f" é\t');
    expect(copyTextField(null)).toBe('');
    expect(copyTextField(42)).toBe('42');
  });
});

describe('CopyBuffer', () => {
  /** Writes `rows` rows "<n>;<filler>\n" and returns what the buffer handed over, in order. */
  const writeRows = (rows: number, filler: string) => {
    const out = new CopyBuffer();
    const chunks: string[] = [];
    for (let n = 0; n < rows; n++) {
      out.reserve(20 + filler.length);
      out.integer(n);
      out.text(`;${filler}\n`);
      for (const full of out.takeFull()) chunks.push(full.toString('utf8'));
      out.reclaim();
    }
    const last = out.take();
    if (last) chunks.push(last.toString('utf8'));
    return chunks;
  };

  it('writes integers in decimal and hands over whole rows only, in order', () => {
    const filler = 'x'.repeat(997);
    const chunks = writeRows(2_000, filler); // ~2 MB: several buffers
    expect(chunks.length).toBeGreaterThan(4);
    for (const chunk of chunks) expect(chunk.endsWith('\n')).toBe(true);
    const rows = chunks.join('').split('\n').slice(0, -1);
    expect(rows).toEqual(Array.from({ length: 2_000 }, (_, n) => `${n};${filler}`));
  });

  it('reuses a buffer once it has been read instead of allocating another', () => {
    const out = new CopyBuffer();
    const seen = new Set<ArrayBufferLike>();
    for (let n = 0; n < 10_000; n++) {
      out.reserve(200);
      out.text(`${'y'.repeat(150)}\n`);
      for (const full of out.takeFull()) seen.add(full.buffer);
      out.reclaim();
    }
    // ~1.5 MB went through: with reuse, two 256 KB buffers take turns.
    expect(seen.size).toBeLessThanOrEqual(2);
  });

  it('gives a row longer than a buffer a buffer of its own', () => {
    const huge = 'z'.repeat(300 * 1024);
    const chunks = writeRows(3, huge);
    expect(chunks.join('')).toBe(`0;${huge}\n1;${huge}\n2;${huge}\n`);
  });
});
