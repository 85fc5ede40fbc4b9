import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * An exclusive lock on an embedded database directory, held by a live process.
 *
 * PGlite can be opened by one process at a time, and it runs on the CLI's own thread: during a
 * long statement no timer fires, so a lock kept fresh by a heartbeat (mtime-based locks) would
 * look stale and be stolen while its owner still writes. This lock is owned by a process id
 * instead: it is free when the owner has exited (even by kill -9), whatever the time.
 */
export interface DataDirLock {
  release(): Promise<void>;
}

interface Owner {
  pid: number;
  host: string;
  acquiredAt: string;
}

const POLL_MS = 200;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readOwner(lockDir: string): Promise<Owner | undefined> {
  try {
    return JSON.parse(await readFile(path.join(lockDir, 'owner.json'), 'utf8')) as Owner;
  } catch {
    return undefined;
  }
}

export async function lockDataDir(dataDir: string, onWait: (message: string) => void = () => undefined): Promise<DataDirLock> {
  const lockDir = `${path.resolve(dataDir)}.lock`;
  const me: Owner = { pid: process.pid, host: hostname(), acquiredAt: new Date().toISOString() };
  let announced = false;
  for (;;) {
    try {
      await mkdir(lockDir); // atomic: exactly one process creates it
      await writeFile(path.join(lockDir, 'owner.json'), JSON.stringify(me));
      return {
        release: async () => {
          const owner = await readOwner(lockDir);
          if (owner?.pid === me.pid && owner.host === me.host) await rm(lockDir, { recursive: true, force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = await readOwner(lockDir);
    if (owner === undefined) {
      // Created a moment ago and not written yet, or left half-written by a killed process.
      await sleep(POLL_MS);
      const again = await readOwner(lockDir);
      if (again === undefined) await rm(lockDir, { recursive: true, force: true });
      continue;
    }
    if (owner.host === me.host && !isAlive(owner.pid)) {
      await rm(lockDir, { recursive: true, force: true });
      continue;
    }
    if (!announced) {
      onWait(`the embedded database ${dataDir} is in use by process ${owner.pid} on ${owner.host}; waiting for it to finish`);
      announced = true;
    }
    await sleep(POLL_MS);
  }
}
