import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { PGlite } from '@electric-sql/pglite';
import { ArchiveError, checkArchive, extractArchive } from './data-dir-archive.js';
import type { Database, QueryResult, Row } from './database.js';
import { TEXT_TYPE_OIDS, identity, parseInt8 } from './database.js';
import { lockDataDir } from './data-dir-lock.js';
import type { LockOptions } from './data-dir-lock.js';
import { describeTarget } from '../config/settings.js';
import { DatabaseUnavailableError } from '../util/errors.js';

/*
 * Memory: PGlite runs PostgreSQL in this process as WebAssembly, whose memory only grows, so the
 * settings below keep PostgreSQL inside the module's initial 128 MB and V8's own overhead small.
 * What each one saves, and what was tried instead: docs/benchmarks.md, "Embedded memory settings".
 */

/** PostgreSQL's default (128 MB) alone would fill the initial WebAssembly memory. */
const SHARED_BUFFERS = '16MB';
/** The model's deferred index builds sort in this much (default 64 MB); larger sorts spill to temporary files. */
const MAINTENANCE_WORK_MEM = '16MB';

/** Settings given on every start (they override postgresql.conf, also of older data directories). */
const START_PARAMS = [
  ...PGlite.defaultStartParams,
  '-c', `shared_buffers=${SHARED_BUFFERS}`,
  '-c', `maintenance_work_mem=${MAINTENANCE_WORK_MEM}`,
];

/**
 * initdb would bootstrap with the default shared_buffers, and write it to postgresql.conf. The
 * prepared data directory is made with these (data-dir-archive.ts), and used only while they match.
 */
export const INITDB_PARAMS: readonly string[] = ['-c', `shared_buffers=${SHARED_BUFFERS}`];

/** Lies in a data directory while this module creates it: found later, the creation was cut short. */
const CREATING_MARKER = '.instapro-creating';

/**
 * PGlite's COPY reads one whole in-memory buffer per statement, so rows go in small bounded
 * batches: the size of the chunks ingest yields, so one chunk is one COPY.
 */
const COPY_BATCH_BYTES = 256 * 1024;

/**
 * V8 re-compiles WebAssembly functions with its optimizing tier past this budget (default
 * 1,800,000) and keeps both versions; 100x optimizes only PostgreSQL's hot code. Process-wide and
 * read when a module is instantiated, so it is set before PGlite compiles.
 */
const WASM_TIERING_BUDGET = 180_000_000;

/** 1: V8's young generation keeps its initial size instead of doubling; read whenever it would grow, so settable now. */
const SEMI_SPACE_GROWTH_FACTOR = 1;

/** One background WebAssembly compilation at a time: each task in flight holds compiler memory of its own. */
const WASM_COMPILATION_TASKS = 1;

export interface EmbeddedOptions extends LockOptions {
  /** Told how a new data directory is created: from the prepared one, or by initdb and why. */
  log?: (message: string) => void;
}

/**
 * Opens the embedded database. PGlite can only be opened by one process at a time, so a lock next
 * to the data directory serializes concurrent CLI invocations (the server backend relies on an
 * advisory lock instead).
 */
export async function openEmbedded(dataDir: string, options: EmbeddedOptions): Promise<Database> {
  try {
    await mkdir(dataDir, { recursive: true });
  } catch (error) {
    throw openFailure(dataDir, error);
  }
  const lock = await lockDataDir(dataDir, options);
  const release = () => lock.release();
  let creation: Creation = 'none';
  let pg: PGlite;
  try {
    creation = await createDataDir(dataDir, options.log ?? (() => undefined));
    setFlagsFromString(`--wasm-tiering-budget=${WASM_TIERING_BUDGET}`);
    setFlagsFromString(`--semi-space-growth-factor=${SEMI_SPACE_GROWTH_FACTOR}`);
    setFlagsFromString(`--wasm-num-compilation-tasks=${WASM_COMPILATION_TASKS}`);
    pg = await PGlite.create(dataDir, {
      startParams: START_PARAMS,
      initDbStartParams: [...INITDB_PARAMS],
      parsers: {
        [TEXT_TYPE_OIDS.int8]: parseInt8,
        [TEXT_TYPE_OIDS.date]: identity,
        [TEXT_TYPE_OIDS.timestamp]: identity,
        [TEXT_TYPE_OIDS.timestamptz]: identity,
        [TEXT_TYPE_OIDS.numeric]: identity,
      },
    });
    if (creation === 'initdb') await rm(path.join(dataDir, CREATING_MARKER));
    // Reclaiming space must not stop the work: a file that cannot be removed now is retried next time.
    await removeOrphanRelationFiles(pg, dataDir).catch(() => undefined);
  } catch (error) {
    // What this call began to create is removed (a half-initialized directory cannot be opened later).
    if (creation !== 'none') await emptyDirectory(dataDir).catch(() => undefined);
    await release();
    throw openFailure(dataDir, error);
  }

  const encoder = new TextEncoder();
  const copyBatch = async (copySql: string, options: string, bytes: ArrayBuffer): Promise<number> => {
    const result = await pg.query(`${copySql} FROM '/dev/blob' WITH (${options})`, [], { blob: bytesAsBlob(bytes) });
    return result.affectedRows ?? 0;
  };

  return {
    kind: 'embedded',
    description: describeTarget({ kind: 'embedded', dataDir }),
    async query<T extends Row = Row>(sql: string, params: unknown[] = []): Promise<QueryResult<T>> {
      const result = await pg.query<T>(sql, params);
      return { rows: result.rows, fields: result.fields.map((f) => f.name) };
    },
    async exec(sql: string): Promise<void> {
      await pg.exec(sql);
    },
    async copyFrom(copySql: string, options: string, data: AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>): Promise<number> {
      // One staging buffer for every batch, shrunk to the batch for PGlite (it reads a whole
      // ArrayBuffer) and grown back: a buffer per batch would leave dead buffers between collections.
      let staging = resizableBuffer(COPY_BATCH_BYTES);
      let used = 0;
      let copied = 0;
      const flush = async () => {
        staging.resize(used);
        try {
          copied += await copyBatch(copySql, options, staging);
        } finally {
          staging.resize(staging.maxByteLength);
        }
        used = 0;
      };
      for await (const chunk of data) {
        const bytes = typeof chunk === 'string' ? encoder.encode(chunk) : chunk;
        if (used > 0 && used + bytes.length > staging.maxByteLength) await flush();
        if (bytes.length > staging.maxByteLength) staging = resizableBuffer(bytes.length);
        new Uint8Array(staging, used, bytes.length).set(bytes);
        used += bytes.length;
      }
      if (used > 0) await flush();
      return copied;
    },
    async close(): Promise<void> {
      try {
        await pg.close();
      } finally {
        await release().catch(() => undefined);
      }
    },
  };
}

/** How openEmbedded found the data directory: in use already, or created now, and how. */
type Creation = 'none' | 'unpacked' | 'initdb';

/**
 * Creates the data directory when it is empty (or was left half-made), with the lock held. A
 * marker file lies in it until the directory is complete, so a process killed while creating it
 * leaves a directory the next one recognizes and creates again; a temporary sibling renamed into
 * place would not do where the data directory is a mount point (a container volume).
 * From the prepared data directory when it is there and fits this PGlite; else PGlite's initdb
 * runs when PGlite opens the directory (a one-off peak of ~700 MB in this process).
 */
async function createDataDir(dataDir: string, log: (message: string) => void): Promise<Creation> {
  const marker = path.join(dataDir, CREATING_MARKER);
  const entries = await readdir(dataDir);
  if (entries.includes(CREATING_MARKER)) {
    log(`the embedded database in ${dataDir} was left half-created by a process that stopped; creating it again`);
    await emptyDirectory(dataDir, CREATING_MARKER);
  } else if (entries.length > 0) {
    return 'none';
  } else {
    await writeFile(marker, '');
  }
  const archive = await checkArchive(INITDB_PARAMS);
  let reason: string;
  if (archive.usable) {
    try {
      await extractArchive(archive.file, archive.manifest, dataDir);
      await rm(marker);
      log(`created the embedded database in ${dataDir} from the prepared data directory (PGlite ${archive.manifest.pglite}, no initdb)`);
      return 'unpacked';
    } catch (error) {
      // A file system failure (ENOSPC, EACCES) fails the open; a damaged archive falls back to initdb.
      await emptyDirectory(dataDir, error instanceof ArchiveError ? CREATING_MARKER : undefined).catch(() => undefined);
      if (!(error instanceof ArchiveError)) throw error;
      reason = error.message;
    }
  } else {
    reason = archive.reason;
  }
  log(
    `no usable prepared data directory (${reason}): creating the embedded database in ${dataDir} with PGlite's initdb in this process, a one-off peak of ~700 MB of memory (\`npm run build\` prepares the directory)`,
  );
  return 'initdb';
}

/** Removes everything in `dir` but `keep`. */
async function emptyDirectory(dir: string, keep?: string): Promise<void> {
  for (const entry of await readdir(dir)) if (entry !== keep) await rm(path.join(dir, entry), { recursive: true, force: true });
}

/** Relation files are named <filenode>[_fsm|_vm|_init][.<segment>]. */
const RELATION_FILE = /^(\d+)(?:_(?:fsm|vm|init))?(?:\.\d+)?$/;
/** Filenodes below this belong to the system catalogs as initdb made them: never touched. */
const FIRST_NORMAL_OBJECT_ID = 16384;

/**
 * A process killed in a transaction that gave a relation a new file (TRUNCATE, then COPY FREEZE
 * into the new file, on the first load) leaves that file behind: PostgreSQL's crash recovery
 * does not delete the files of aborted transactions, and nothing references them, so they would
 * take their space for good. Here PostgreSQL is this process, just started, with the data
 * directory locked: no transaction is open, so a relation file of this database that no
 * pg_class row points to is such a leftover.
 */
async function removeOrphanRelationFiles(pg: PGlite, dataDir: string): Promise<void> {
  const { rows } = await pg.query<{ dir: string; filenodes: string[] }>(
    `SELECT 'base/' || (SELECT oid FROM pg_database WHERE datname = current_database()) AS dir,
            array(SELECT pg_relation_filenode(oid)::text FROM pg_class WHERE pg_relation_filenode(oid) IS NOT NULL) AS filenodes`,
  );
  const row = rows[0];
  if (!row) return;
  const referenced = new Set(row.filenodes);
  const databaseDir = path.join(dataDir, row.dir);
  for (const name of await readdir(databaseDir)) {
    const filenode = RELATION_FILE.exec(name)?.[1];
    if (filenode === undefined || Number(filenode) < FIRST_NORMAL_OBJECT_ID || referenced.has(filenode)) continue;
    await rm(path.join(databaseDir, name), { force: true });
  }
}

/**
 * PGlite's file system errors are Emscripten ErrnoError objects, not Errors: a number, no message
 * (printed as "[object Object]"). Their numbers are WASI's.
 */
const WASI_ERRNO: Record<number, string> = { 2: 'EACCES: permission denied', 19: 'EDQUOT: disk quota exceeded', 29: 'EIO: input/output error', 44: 'ENOENT: no such file or directory', 51: 'ENOSPC: no space left on device', 63: 'EPERM: operation not permitted', 69: 'EROFS: read-only file system' };

/** Why the embedded database could not be opened or created, as exit 7 with the operating system's reason. */
function openFailure(dataDir: string, error: unknown): unknown {
  const e = error as { name?: unknown; errno?: unknown; code?: unknown; message?: unknown };
  let reason: string | undefined;
  if (e?.name === 'ErrnoError' && typeof e.errno === 'number') reason = WASI_ERRNO[e.errno] ?? `file system error ${e.errno}`;
  else if (typeof e?.code === 'string' && /^E[A-Z]+$/.test(e.code)) reason = String(e.message);
  if (reason === undefined) return error;
  return new DatabaseUnavailableError(`cannot open the embedded database in ${dataDir}: ${reason}`);
}

/**
 * PGlite reads a query's blob only through `arrayBuffer()` (0.5.x: `_handleBlob`), during the
 * query. A real Blob would copy the bytes into native memory V8 does not count, freed late.
 */
function bytesAsBlob(buffer: ArrayBuffer): Blob {
  return { arrayBuffer: () => Promise.resolve(buffer) } as unknown as Blob;
}

/** An ArrayBuffer that can shrink and grow in place (Node 20 has them; TypeScript's ES2023 lib does not know them). */
interface ResizableArrayBuffer extends ArrayBuffer {
  readonly maxByteLength: number;
  resize(byteLength: number): void;
}

function resizableBuffer(maxByteLength: number): ResizableArrayBuffer {
  const Resizable = ArrayBuffer as unknown as new (byteLength: number, options: { maxByteLength: number }) => ResizableArrayBuffer;
  return new Resizable(maxByteLength, { maxByteLength });
}
