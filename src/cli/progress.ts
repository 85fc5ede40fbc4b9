import type { ProgressReporter } from '../pipeline/context.js';
import { silentProgress } from '../pipeline/context.js';

const REDRAW_MS = 250;
const ACTIVITY_REDRAW_MS = 1000;

/**
 * Rows, MB/s and ETA on one redrawn stderr line while a long step runs; for work of unknown size
 * (the model's statements, the data tests), what runs and for how long. Only on a terminal and
 * never with --json, so logs and machine output stay clean.
 */
export function terminalProgress(enabled: boolean, stream: Pick<NodeJS.WriteStream, 'isTTY' | 'write'> = process.stderr): ProgressReporter {
  if (!enabled || !stream.isTTY) return silentProgress;
  let label = '';
  let total: number | undefined;
  let startedAt = 0;
  let lastDraw = 0;
  let drawn = false;
  let ticker: NodeJS.Timeout | undefined;
  const stopTicker = () => {
    clearInterval(ticker);
    ticker = undefined;
  };
  const drawActivity = () => {
    stream.write(`\r${label} (${Math.floor((Date.now() - startedAt) / 1000)}s)\u001b[K`);
    drawn = true;
  };
  return {
    start(newLabel, totalBytes) {
      stopTicker();
      label = newLabel;
      total = totalBytes;
      startedAt = Date.now();
      lastDraw = 0;
    },
    activity(newLabel) {
      stopTicker();
      label = newLabel;
      startedAt = Date.now();
      drawActivity();
      // Redrawn while the statement runs; unref'd, so it never keeps the process alive.
      ticker = setInterval(drawActivity, ACTIVITY_REDRAW_MS).unref();
    },
    update(rows, bytes) {
      const now = Date.now();
      if (now - lastDraw < REDRAW_MS) return;
      lastDraw = now;
      const seconds = Math.max((now - startedAt) / 1000, 0.001);
      const mbPerSecond = bytes / 1e6 / seconds;
      const eta = total && bytes > 0 ? Math.max(0, ((total - bytes) / bytes) * seconds) : undefined;
      const percent = total ? ` ${Math.min(100, (bytes / total) * 100).toFixed(0)}%` : '';
      stream.write(
        `\r${label}:${percent} ${rows.toLocaleString('en-US')} rows, ${mbPerSecond.toFixed(1)} MB/s${eta === undefined ? '' : `, ETA ${eta.toFixed(0)}s`}\u001b[K`,
      );
      drawn = true;
    },
    stop() {
      stopTicker();
      if (drawn) stream.write('\r\u001b[K');
      drawn = false;
    },
  };
}
