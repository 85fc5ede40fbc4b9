import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { terminalProgress } from '../../src/cli/progress.js';

function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, write: (chunk: string) => (writes.push(chunk), true) } };
}

describe('terminal progress', () => {
  beforeEach(() => vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') }));
  afterEach(() => vi.useRealTimers());

  it('writes nothing when stderr is not a terminal, or with --json', () => {
    for (const [enabled, isTTY] of [
      [true, false],
      [false, true],
    ] as const) {
      const { writes, stream } = fakeStream(isTTY);
      const progress = terminalProgress(enabled, stream);
      progress.start('ingest f.csv', 1000);
      vi.advanceTimersByTime(1000);
      progress.update(10, 100);
      progress.activity('model: 05_fct_event.sql (4/6)');
      vi.advanceTimersByTime(5000);
      progress.stop();
      expect(writes).toEqual([]);
    }
  });

  it('shows rows, percent, MB/s and ETA of a pass over a file, at most every 250 ms', () => {
    const { writes, stream } = fakeStream(true);
    const progress = terminalProgress(true, stream);
    progress.start('ingest f.csv', 4_000_000);
    vi.advanceTimersByTime(2000);
    progress.update(10_000, 1_000_000);
    progress.update(10_001, 1_000_100); // same instant: not redrawn
    expect(writes).toEqual(['\ringest f.csv: 25% 10,000 rows, 0.5 MB/s, ETA 6s\u001b[K']);
    progress.stop();
    expect(writes.at(-1)).toBe('\r\u001b[K');
  });

  it('shows what runs and for how long, redrawn each second until stopped', () => {
    const { writes, stream } = fakeStream(true);
    const progress = terminalProgress(true, stream);
    progress.activity('model: 05_fct_event.sql (4/6)');
    vi.advanceTimersByTime(2000);
    progress.activity('model: keys and indexes, fct_event_pkey (1/12)');
    vi.advanceTimersByTime(1000);
    progress.stop();
    vi.advanceTimersByTime(5000); // the ticker is gone
    expect(writes).toEqual([
      '\rmodel: 05_fct_event.sql (4/6) (0s)\u001b[K',
      '\rmodel: 05_fct_event.sql (4/6) (1s)\u001b[K',
      '\rmodel: 05_fct_event.sql (4/6) (2s)\u001b[K',
      '\rmodel: keys and indexes, fct_event_pkey (1/12) (0s)\u001b[K',
      '\rmodel: keys and indexes, fct_event_pkey (1/12) (1s)\u001b[K',
      '\r\u001b[K',
    ]);
  });
});
