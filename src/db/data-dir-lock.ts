import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { LockTimeoutError, PipelineError, EXIT_CODES } from '../util/errors.js';

/**
 * An exclusive lock on an embedded database directory: flock(2) on `<data dir>.flock`.
 *
 * The kernel owns the lock, not a file's contents: it is held by this process's open file
 * description and released when that is closed, which the kernel does when the process dies
 * (kill -9 included). So there is no stale-owner judgement to get wrong (a PID reused in a
 * restarted container, another host's PID), and no window in which a waiter can take a lock from a
 * live owner. Node has no flock binding, so flock(1) from util-linux takes it on a descriptor this
 * process passes down: the lock belongs to the shared open file description and stays held after
 * flock(1) exits. docs/reliability.md compares the alternatives.
 */
export interface DataDirLock {
  release(): Promise<void>;
}

export interface LockOptions {
  /** How long to wait for another process to release the lock; 0: do not wait. */
  timeoutSeconds: number;
  /** Told once when the lock is busy and this process starts waiting. */
  onWait?: (message: string) => void;
}

/** flock(1)'s exit status when the lock is busy (-n) or the wait (-w) ran out. */
const LOCK_BUSY = 75;
/** The lock file descriptor as flock(1) sees it: stdin, stdout, stderr, then this one. */
const CHILD_LOCK_FD = 3;

export function lockFilePath(dataDir: string): string {
  return `${path.resolve(dataDir)}.flock`;
}

export async function lockDataDir(dataDir: string, options: LockOptions): Promise<DataDirLock> {
  const file = lockFilePath(dataDir);
  const handle = await open(file, constants.O_RDWR | constants.O_CREAT, 0o644);
  try {
    if ((await flock(handle, ['--nonblock'])) === LOCK_BUSY) {
      if (options.timeoutSeconds <= 0) throw lockTimeout(dataDir, file, await readOwner(handle), 0);
      options.onWait?.(`the embedded database ${dataDir} is in use${describeOwner(await readOwner(handle))}; waiting up to ${options.timeoutSeconds} s for it (INSTAPRO_LOCK_TIMEOUT)`);
      if ((await flock(handle, ['--wait', String(options.timeoutSeconds)])) === LOCK_BUSY) {
        throw lockTimeout(dataDir, file, await readOwner(handle), options.timeoutSeconds);
      }
    }
    // Who holds it, for the message of a process that has to wait; the lock itself is the kernel's.
    await handle.truncate(0);
    await handle.write(JSON.stringify({ pid: process.pid, host: hostname(), acquiredAt: new Date().toISOString() }), 0);
  } catch (error) {
    await handle.close();
    throw error;
  }
  return {
    release: async () => {
      await handle.close();
    },
  };
}

/** Runs flock(1) on the handle's descriptor; resolves to its exit status (0: locked, LOCK_BUSY: not). */
function flock(handle: FileHandle, mode: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const stdio: ('ignore' | 'pipe' | number)[] = ['ignore', 'ignore', 'pipe', handle.fd];
    const child = spawn('flock', ['--exclusive', ...mode, '--conflict-exit-code', String(LOCK_BUSY), String(CHILD_LOCK_FD)], { stdio });
    // A process that exits while waiting (a signal, a timeout of its own) must not leave flock(1)
    // behind: it would take the lock on a descriptor nobody closes until it exits.
    const stop = () => child.kill('SIGKILL');
    process.once('exit', stop);
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', (error: NodeJS.ErrnoException) => {
      process.removeListener('exit', stop);
      reject(
        error.code === 'ENOENT'
          ? new PipelineError('flock(1) was not found: the embedded database lock needs it (Debian/Ubuntu package util-linux)', EXIT_CODES.configuration)
          : error,
      );
    });
    child.on('close', (code, signal) => {
      process.removeListener('exit', stop);
      if (code === 0 || code === LOCK_BUSY) resolve(code);
      else reject(new Error(`flock(1) failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`));
    });
  });
}

interface Owner {
  pid?: number;
  host?: string;
  acquiredAt?: string;
}

async function readOwner(handle: FileHandle): Promise<Owner | undefined> {
  try {
    const { buffer, bytesRead } = await handle.read({ buffer: Buffer.alloc(4096), position: 0 });
    return JSON.parse(buffer.toString('utf8', 0, bytesRead)) as Owner;
  } catch {
    return undefined; // being written, or not yet: the message just says less
  }
}

function describeOwner(owner: Owner | undefined): string {
  return owner?.pid === undefined ? '' : ` by process ${owner.pid} on ${owner.host ?? 'an unknown host'} (since ${owner.acquiredAt ?? '?'})`;
}

function lockTimeout(dataDir: string, file: string, owner: Owner | undefined, seconds: number): LockTimeoutError {
  return new LockTimeoutError(
    `the embedded database ${dataDir} is still in use${describeOwner(owner)} after waiting ${seconds} s (lock ${file}); raise INSTAPRO_LOCK_TIMEOUT / --lock-timeout to wait longer`,
  );
}
