import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGunzip } from 'node:zlib';
import { PGlite } from '@electric-sql/pglite';
import { PACKAGE_ROOT } from './sql-files.js';

/*
 * The prepared data directory: an empty PGlite data directory, made once by `npm run build`
 * (prepare-data-dir-archive.ts) and unpacked into every new embedded database. PGlite's own
 * initdb, run in the user's process, peaks at ~700 MB (docs/benchmarks.md); unpacking costs a few
 * MB. The archive is what PGlite's dumpDataDir writes (a gzipped tar), so its loadDataDir reads it
 * too; this module unpacks it itself (see extractArchive for why).
 */

export const ARCHIVE_DIR = path.join(PACKAGE_ROOT, 'dist', 'data-dir-archive');
const ARCHIVE_NAME = 'pgdata.tar.gz';
const MANIFEST_NAME = 'manifest.json';
/** Raised when the archive's layout or the manifest's meaning changes: older archives are then stale. */
const ARCHIVE_FORMAT = 1;

/** What an archive was made with, beside it as manifest.json. */
export interface ArchiveManifest {
  format: number;
  /** PGlite's version: its PostgreSQL build decides the catalog, control file and WAL format. */
  pglite: string;
  /** initdb's settings: what initdb writes into postgresql.conf (shared_buffers) stays in the directory. */
  initdbParams: string[];
  sha256: string;
  bytes: number;
  createdAt: string;
}

export type ArchiveCheck = { usable: true; file: string; manifest: ArchiveManifest } | { usable: false; reason: string };

/** A damaged or unexpected archive (as opposed to the data directory's file system failing). */
export class ArchiveError extends Error {
  override name = 'ArchiveError';
}

let pgliteVersionCache: Promise<string> | undefined;

/** The installed PGlite's version, from its package.json (which its exports map does not expose). */
export function pgliteVersion(): Promise<string> {
  pgliteVersionCache ??= (async () => {
    let dir = path.dirname(fileURLToPath(import.meta.resolve('@electric-sql/pglite')));
    for (;;) {
      const manifest = await readFile(path.join(dir, 'package.json'), 'utf8').catch(() => undefined);
      if (manifest !== undefined) {
        const { name, version } = JSON.parse(manifest) as { name?: string; version?: string };
        if (name === '@electric-sql/pglite' && typeof version === 'string') return version;
      }
      const parent = path.dirname(dir);
      if (parent === dir) throw new Error('cannot find the package.json of @electric-sql/pglite');
      dir = parent;
    }
  })();
  return pgliteVersionCache;
}

/** Whether the archive in `dir` was made for this PGlite with these initdb settings; why not, if not. */
export async function checkArchive(initdbParams: readonly string[], dir: string = ARCHIVE_DIR): Promise<ArchiveCheck> {
  const file = path.join(dir, ARCHIVE_NAME);
  let manifest: ArchiveManifest;
  try {
    manifest = JSON.parse(await readFile(path.join(dir, MANIFEST_NAME), 'utf8')) as ArchiveManifest;
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    return { usable: false, reason: missing ? `there is none in ${dir}` : `its manifest in ${dir} is unreadable (${(error as Error).message})` };
  }
  const version = await pgliteVersion();
  if (manifest.format !== ARCHIVE_FORMAT) return { usable: false, reason: `the one in ${dir} has format ${String(manifest.format)}, not ${ARCHIVE_FORMAT}` };
  if (manifest.pglite !== version) return { usable: false, reason: `the one in ${dir} was made for PGlite ${String(manifest.pglite)}, this is PGlite ${version}` };
  if (JSON.stringify(manifest.initdbParams) !== JSON.stringify(initdbParams)) {
    return { usable: false, reason: `the one in ${dir} was made with initdb settings ${JSON.stringify(manifest.initdbParams)}, not ${JSON.stringify(initdbParams)}` };
  }
  return { usable: true, file, manifest };
}

/**
 * Unpacks the archive into `target` (an existing, empty directory), streaming: 38 MB of files
 * through a 64 KB window. PGlite's loadDataDir would hold the whole tar and a copy of each file in
 * JavaScript memory (~110 MB more peak RSS, measured), and it writes into the directory PostgreSQL
 * then runs in, so the caller could not mark the directory complete before PostgreSQL starts.
 * The checksum is verified before anything is written. Directories 0700, files 0600: PostgreSQL's.
 */
export async function extractArchive(file: string, manifest: ArchiveManifest, target: string): Promise<{ files: number; bytes: number }> {
  const compressed = await readFile(file);
  const sha256 = createHash('sha256').update(compressed).digest('hex');
  if (sha256 !== manifest.sha256) throw new ArchiveError(`${file} does not match its manifest (sha256 ${sha256}, expected ${manifest.sha256})`);
  const gunzip = createGunzip({ chunkSize: CHUNK });
  gunzip.end(compressed);
  const reader = new ChunkReader(gunzip[Symbol.asyncIterator]() as AsyncIterator<Buffer>);
  let files = 0;
  let bytes = 0;
  try {
    for (;;) {
      const header = await reader.read(BLOCK);
      if (header.length < BLOCK) throw new ArchiveError(`${file}: the tar ends without its end-of-archive blocks`);
      if (header.every((b) => b === 0)) break;
      const entry = parseHeader(header, file);
      const destination = path.join(target, entry.name);
      if (entry.type === 'directory') {
        await mkdir(destination, { recursive: true, mode: 0o700 });
        continue;
      }
      await mkdir(path.dirname(destination), { recursive: true, mode: 0o700 });
      const handle = await open(destination, 'wx', 0o600);
      try {
        // Runs of zeros (half the WAL segment, the catalogs' free space) are left as holes: 30 MB on disk, not 39.
        for (let position = 0; position < entry.size; ) {
          const piece = await reader.readSome(entry.size - position);
          if (piece.length === 0) throw new ArchiveError(`${file}: ${entry.name} is cut short`);
          if (piece.length > ZEROS.length || !piece.equals(ZEROS.subarray(0, piece.length))) await handle.write(piece, 0, piece.length, position);
          position += piece.length;
        }
        await handle.truncate(entry.size);
      } finally {
        await handle.close();
      }
      const padding = (BLOCK - (entry.size % BLOCK)) % BLOCK;
      if ((await reader.read(padding)).length < padding) throw new ArchiveError(`${file}: ${entry.name} is cut short`);
      files += 1;
      bytes += entry.size;
    }
  } catch (error) {
    // zlib's own errors (a corrupt stream) say "incorrect header check" and the like: the archive's fault.
    if (typeof (error as { code?: unknown }).code === 'string' && (error as { code: string }).code.startsWith('Z_')) throw new ArchiveError(`${file}: ${(error as Error).message}`);
    throw error;
  } finally {
    gunzip.destroy();
  }
  if (files === 0) throw new ArchiveError(`${file} holds no file`);
  return { files, bytes };
}

const BLOCK = 512;
const CHUNK = 64 * 1024;
const ZEROS = Buffer.alloc(CHUNK);

interface TarEntry {
  name: string;
  type: 'file' | 'directory';
  size: number;
}

/** A ustar header (what tinytar, PGlite's tar writer, emits): name, size, type, checksum. */
function parseHeader(header: Buffer, file: string): TarEntry {
  const text = (start: number, length: number) => {
    const field = header.subarray(start, start + length);
    const end = field.indexOf(0);
    return field.subarray(0, end === -1 ? length : end).toString('utf8');
  };
  const octal = (start: number, length: number) => {
    const digits = text(start, length).trim();
    if (!/^[0-7]+$/.test(digits)) throw new ArchiveError(`${file}: a tar header has an unreadable number "${digits}"`);
    return parseInt(digits, 8);
  };
  let sum = 0;
  for (let i = 0; i < BLOCK; i += 1) sum += i >= 148 && i < 156 ? 0x20 : (header[i] as number);
  if (sum !== octal(148, 8)) throw new ArchiveError(`${file}: a tar header's checksum does not match`);
  const prefix = text(345, 155);
  const raw = prefix === '' ? text(0, 100) : `${prefix}/${text(0, 100)}`;
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0 || parts.includes('..')) throw new ArchiveError(`${file}: a tar entry has the name "${raw}"`);
  const flag = String.fromCharCode(header[156] as number);
  const type = flag === '5' ? 'directory' : flag === '0' || flag === '\0' ? 'file' : undefined;
  if (type === undefined) throw new ArchiveError(`${file}: ${raw} is of tar type "${flag}", not a file or directory`);
  return { name: parts.join(path.sep), type, size: type === 'file' ? octal(124, 12) : 0 };
}

/** Reads exact byte counts from a stream of chunks. */
class ChunkReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private done = false;

  constructor(private readonly source: AsyncIterator<Buffer>) {}

  /** Between 1 and `n` bytes, as they came (no copy), or none at the end of the stream. */
  async readSome(n: number): Promise<Buffer> {
    if (this.buffered === 0) await this.fill(1);
    const first = this.chunks[0];
    if (!first) return Buffer.alloc(0);
    const take = Math.min(n, first.length);
    if (take === first.length) this.chunks.shift();
    else this.chunks[0] = first.subarray(take);
    this.buffered -= take;
    return first.subarray(0, take);
  }

  /** `n` bytes, or fewer at the end of the stream. */
  async read(n: number): Promise<Buffer> {
    await this.fill(n);
    const take = Math.min(n, this.buffered);
    const first = this.chunks[0];
    let out: Buffer;
    if (first && first.length >= take) {
      out = first.subarray(0, take);
      if (first.length === take) this.chunks.shift();
      else this.chunks[0] = first.subarray(take);
    } else {
      out = Buffer.allocUnsafe(take);
      for (let copied = 0; copied < take; ) {
        const chunk = this.chunks[0] as Buffer;
        const part = Math.min(chunk.length, take - copied);
        chunk.copy(out, copied, 0, part);
        copied += part;
        if (part === chunk.length) this.chunks.shift();
        else this.chunks[0] = chunk.subarray(part);
      }
    }
    this.buffered -= take;
    return out;
  }

  private async fill(n: number): Promise<void> {
    while (this.buffered < n && !this.done) {
      const next = await this.source.next();
      if (next.done) this.done = true;
      else if (next.value.length > 0) {
        this.chunks.push(next.value);
        this.buffered += next.value.length;
      }
    }
  }
}

/**
 * Makes the archive: PGlite's initdb on a scratch directory, a clean shutdown (so a directory
 * unpacked from it starts without crash recovery), then dumpDataDir. PGlite dumps without starting
 * PostgreSQL when told not to run initdb (`noInitDb`). Takes ~6 s and ~750 MB, at build time.
 */
export async function writeArchive(initdbParams: readonly string[], dir: string = ARCHIVE_DIR): Promise<ArchiveManifest> {
  const scratch = await mkdtemp(path.join(tmpdir(), 'instapro-pgdata-'));
  try {
    const pg = await PGlite.create(scratch, { initDbStartParams: [...initdbParams] });
    await pg.close();
    const reader = await PGlite.create(scratch, { noInitDb: true });
    const tarball = Buffer.from(await (await reader.dumpDataDir('gzip')).arrayBuffer());
    const manifest: ArchiveManifest = {
      format: ARCHIVE_FORMAT,
      pglite: await pgliteVersion(),
      initdbParams: [...initdbParams],
      sha256: createHash('sha256').update(tarball).digest('hex'),
      bytes: tarball.length,
      createdAt: new Date().toISOString(),
    };
    await mkdir(dir, { recursive: true });
    // Each file appears whole or not at all; a manifest that does not match the archive is caught by its checksum.
    await writeFile(path.join(dir, `${ARCHIVE_NAME}.tmp`), tarball);
    await rename(path.join(dir, `${ARCHIVE_NAME}.tmp`), path.join(dir, ARCHIVE_NAME));
    await writeFile(path.join(dir, `${MANIFEST_NAME}.tmp`), `${JSON.stringify(manifest, null, 2)}\n`);
    await rename(path.join(dir, `${MANIFEST_NAME}.tmp`), path.join(dir, MANIFEST_NAME));
    return manifest;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** True when the archive in `dir` is usable and whole (its checksum matches). */
export async function archiveIsCurrent(initdbParams: readonly string[], dir: string = ARCHIVE_DIR): Promise<boolean> {
  const check = await checkArchive(initdbParams, dir);
  if (!check.usable) return false;
  const bytes = await readFile(check.file).catch(() => undefined);
  return bytes !== undefined && createHash('sha256').update(bytes).digest('hex') === check.manifest.sha256;
}
