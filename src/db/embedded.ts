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
 * Memory. PGlite runs PostgreSQL inside this process as WebAssembly, so PostgreSQL's memory is
 * the CLI's memory, and WebAssembly memory only grows: whatever PostgreSQL touches once stays
 * resident until the process exits. The module's linear memory starts at 128 MB (PGlite's
 * `initialMemory` cannot go lower: the build requires 128 MB), so the settings below keep
 * PostgreSQL's own needs inside those 128 MB instead of growing past them. Measured with all of
 * this file's settings (docs/benchmarks.md): peak RSS of a 1M-event run 742 MB → ~300 MB, and it
 * no longer grows with the input; no measurable time cost.
 */

/** PostgreSQL's default, 128 MB, alone fills the initial WASM memory; 16 MB is plenty for one session. */
const SHARED_BUFFERS = '16MB';
/**
 * The model's deferred index builds sort in this much (default 64 MB), which would grow the WASM
 * memory past 128 MB for good; larger sorts spill to temporary files instead (no measurable time
 * cost at 1M events).
 */
const MAINTENANCE_WORK_MEM = '16MB';

/** Settings given on every start (they override postgresql.conf, also of older data directories). */
const START_PARAMS = [
  ...PGlite.defaultStartParams,
  '-c', `shared_buffers=${SHARED_BUFFERS}`,
  '-c', `maintenance_work_mem=${MAINTENANCE_WORK_MEM}`,
];

/**
 * initdb bootstraps the catalogs with the default 128 MB of shared_buffers unless told otherwise
 * (and writes the value to postgresql.conf): creating a data directory peaked ~110 MB higher.
 * The prepared data directory is made with these (data-dir-archive.ts), and only used while they match.
 */
export const INITDB_PARAMS: readonly string[] = ['-c', `shared_buffers=${SHARED_BUFFERS}`];

/** Lies in a data directory while this module creates it: found later, the creation was cut short. */
const CREATING_MARKER = '.instapro-creating';

/**
 * COPY on PGlite reads one whole in-memory buffer per statement, so rows are sent in bounded
 * batches, gathered in one staging buffer that copyFrom reuses. Small batches keep that buffer,
 * and what PostgreSQL reads at once, small (when batches were 8 MB strings, the JS heap reached
 * ~330 MB during a 1M-event ingest, the WASM memory 189 MB, the process 742 MB). 256 KB is also
 * the size of the chunks ingest yields, so one chunk is one COPY; the per-statement overhead is
 * negligible.
 */
const COPY_BATCH_BYTES = 256 * 1024;

/**
 * V8 first runs WebAssembly with its baseline compiler and re-compiles each function that has
 * executed about this much with its optimizing one (default 1,800,000), keeping both versions.
 * For PostgreSQL that was ~40 MB of optimized code in a run. 100× the budget still optimizes the
 * functions that run hot (scans, sorts, COPY) and leaves the merely warm ones in baseline code:
 * peak RSS −25 to −60 MB, no measurable time cost at 1M events.
 * (`--liftoff-only`, no optimizing at all, saves ~60 MB but doubles the run time.) The flag is
 * process-wide and read when a module is instantiated, so it is set before PGlite compiles.
 */
const WASM_TIERING_BUDGET = 180_000_000;

/**
 * V8 doubles its young generation (up to 2 × 16 MB semi-spaces) whenever a scavenge finds much
 * alive, and never shrinks it back during a run. Next to PGlite that was ~17 MB of peak RSS for
 * little gain: the ingest's byte path and the SQL steps allocate little garbage. Unlike the
 * maximum size (a start-up flag), the growth factor is read each time the space would grow, so it
 * can be set here; 1 keeps the young generation at its initial size.
 */
const SEMI_SPACE_GROWTH_FACTOR = 1;

/**
 * V8 compiles WebAssembly in background tasks, by default as many at once as Node's worker
 * threads allow, and the optimizing tier keeps compiling hot functions as a run moves from ingest
 * to the model to the data tests; each task in flight holds its own compiler memory. One task at
 * a time: peak RSS of a 1M run 268–291 MB against 273–300 MB (six runs each, alternated), same
 * wall time.
 */
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
      // Chunks are gathered into one staging buffer, reused for every batch of the COPY: it is
      // handed to PGlite shrunk to the batch's length (PGlite reads a whole ArrayBuffer) and
      // grown back after. Allocating a buffer per batch instead leaves tens of MB of dead
      // buffers between collections (see COPY_BATCH_BYTES).
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
 * PGlite reads a query's blob only through `arrayBuffer()` (0.5.x: `_handleBlob`), and only
 * during the query. A real Blob would copy the bytes once more into native memory that V8 does not
 * see, so it is collected late: with one Blob per batch, ~20 MB more peak RSS on a 1M-event ingest.
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
