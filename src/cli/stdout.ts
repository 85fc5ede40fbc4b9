/**
 * stdout (and stderr) that may be closed by the reader: `instapro run | head -1`. A closed pipe
 * ends the output, never the work: the command goes on, finishes and records its outcome, and its
 * exit code is the work's.
 */
let stdoutOpen = true;

export function writeStdout(text: string): void {
  if (stdoutOpen && !process.stdout.destroyed) process.stdout.write(text);
}

export function writeStderr(text: string): void {
  if (!process.stderr.destroyed) process.stderr.write(text);
}

/** Installed once by the CLI: EPIPE turns output off instead of crashing or exiting. */
export function tolerateClosedOutput(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') {
      stdoutOpen = false;
      return;
    }
    throw error;
  });
  process.stderr.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error;
  });
}
