import type { ProgressReporter } from '../pipeline/context.js';
import { silentProgress } from '../pipeline/context.js';

const REDRAW_MS = 250;

/**
 * Rows, MB/s and ETA on one redrawn stderr line while a long step runs. Only on a terminal and
 * never with --json, so logs and machine output stay clean.
 */
export function terminalProgress(enabled: boolean, stream: NodeJS.WriteStream = process.stderr): ProgressReporter {
  if (!enabled || !stream.isTTY) return silentProgress;
  let label = '';
  let total: number | undefined;
  let startedAt = 0;
  let lastDraw = 0;
  let drawn = false;
  return {
    start(newLabel, totalBytes) {
      label = newLabel;
      total = totalBytes;
      startedAt = Date.now();
      lastDraw = 0;
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
      if (drawn) stream.write('\r\u001b[K');
      drawn = false;
    },
  };
}
