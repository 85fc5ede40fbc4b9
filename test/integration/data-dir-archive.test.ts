/**
 * The prepared data directory (src/db/data-dir-archive.ts): the one the build made fits the
 * installed PGlite and the embedded backend's initdb settings and unpacks to a cleanly shut down
 * data directory; a damaged or unexpected archive is refused before or without writing outside
 * the target.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArchiveError, checkArchive, extractArchive, pgliteVersion } from '../../src/db/data-dir-archive.js';
import type { ArchiveManifest } from '../../src/db/data-dir-archive.js';
import { INITDB_PARAMS } from '../../src/db/embedded.js';

const REPO_ROOT = path.resolve(import.meta.dirname, '../..');

let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'instapro-archive-'));
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('the prepared data directory the build made', () => {
  it('is for the installed PGlite and the initdb settings embedded.ts uses', async () => {
    const installed = JSON.parse(await readFile(path.join(REPO_ROOT, 'node_modules', '@electric-sql', 'pglite', 'package.json'), 'utf8')) as { version: string };
    expect(await pgliteVersion()).toBe(installed.version);
    const check = await checkArchive(INITDB_PARAMS);
    if (!check.usable) throw new Error(`the prepared data directory is not usable (${check.reason}): \`npm run build\` prepares it`);
    expect(check.manifest.pglite).toBe(installed.version);
    expect(check.manifest.initdbParams).toEqual(INITDB_PARAMS);
  });

  it('unpacks to a cleanly shut down data directory with initdb settings, private to its owner', async () => {
    const check = await checkArchive(INITDB_PARAMS);
    if (!check.usable) throw new Error(check.reason);
    const target = path.join(tmp, 'unpacked');
    await mkdir(target);
    const { files, bytes } = await extractArchive(check.file, check.manifest, target);
    expect(files).toBeGreaterThan(100);
    expect(bytes).toBeGreaterThan(16 * 1024 * 1024); // the first WAL segment alone is 16 MB
    expect((await readFile(path.join(target, 'PG_VERSION'), 'utf8')).trim()).toMatch(/^\d+$/);
    expect(await readFile(path.join(target, 'postgresql.conf'), 'utf8')).toMatch(/^shared_buffers = 16MB/m);
    // pg_control's DBState (after the system identifier and two versions): 1 = DB_SHUTDOWNED.
    expect((await readFile(path.join(target, 'global', 'pg_control'))).readUInt32LE(16)).toBe(1);
    expect((await stat(path.join(target, 'base'))).mode & 0o777).toBe(0o700);
    expect((await stat(path.join(target, 'PG_VERSION'))).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(target, 'pg_wal', '000000010000000000000001'))).size).toBe(16 * 1024 * 1024);
  });
});

/** A ustar header as tinytar writes it. */
function tarHeader(name: string, size: number, type: string): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, 'utf8');
  header.write('0000600\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  header.write(`${Math.floor(Date.now() / 1000).toString(8).padStart(11, '0')}\0`, 136);
  header.write(type, 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return header;
}

function tarFile(name: string, content: string, type = '0'): Buffer {
  const data = Buffer.from(content);
  const padding = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([tarHeader(name, type === '0' ? data.length : 0, type), type === '0' ? data : Buffer.alloc(0), type === '0' ? padding : Buffer.alloc(0)]);
}

/** Writes `tar` gzipped, with a manifest whose checksum matches, and returns both. */
async function archiveOf(name: string, tar: Buffer): Promise<{ file: string; manifest: ArchiveManifest }> {
  const gz = gzipSync(tar);
  const file = path.join(tmp, `${name}.tar.gz`);
  await writeFile(file, gz);
  const manifest: ArchiveManifest = { format: 1, pglite: await pgliteVersion(), initdbParams: [...INITDB_PARAMS], sha256: createHash('sha256').update(gz).digest('hex'), bytes: gz.length, createdAt: new Date().toISOString() };
  return { file, manifest };
}

const END = Buffer.alloc(1024);

describe('an archive that is not what the build makes', () => {
  it('unpacks a well-formed one (the format the tests below spoil)', async () => {
    const { file, manifest } = await archiveOf('good', Buffer.concat([tarFile('/sub', '', '5'), tarFile('/sub/a', 'hello'), tarFile('/PG_VERSION', '18\n'), END]));
    const target = path.join(tmp, 'good');
    await mkdir(target);
    expect(await extractArchive(file, manifest, target)).toEqual({ files: 2, bytes: 8 });
    expect(await readFile(path.join(target, 'sub', 'a'), 'utf8')).toBe('hello');
  });

  it.each([
    { what: 'a name leaving the directory', tar: () => Buffer.concat([tarFile('/../escaped', 'x'), END]), message: /has the name "\/..\/escaped"/ },
    { what: 'a symbolic link', tar: () => Buffer.concat([tarFile('/link', '', '2'), END]), message: /of tar type "2"/ },
    { what: 'a file cut short', tar: () => tarFile('/PG_VERSION', '18\n'.repeat(400)).subarray(0, 700), message: /cut short/ },
    { what: 'no end blocks', tar: () => tarFile('/PG_VERSION', '18\n'), message: /without its end-of-archive blocks/ },
    {
      what: 'a header whose checksum is wrong',
      tar: () => {
        const tar = tarFile('/PG_VERSION', '18\n');
        tar.write('X', 1);
        return Buffer.concat([tar, END]);
      },
      message: /checksum does not match/,
    },
  ])('refuses $what', async ({ what, tar, message }) => {
    const { file, manifest } = await archiveOf(what.replace(/\W+/g, '-'), tar());
    const target = path.join(tmp, 'refused', what.replace(/\W+/g, '-'), 'db');
    await mkdir(target, { recursive: true });
    const error = await extractArchive(file, manifest, target).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArchiveError);
    expect((error as Error).message).toMatch(message);
    expect(await readdir(path.dirname(target))).toEqual(['db']);
  });

  it('refuses a file that does not match its manifest before writing anything, and a corrupt gzip stream', async () => {
    const { file, manifest } = await archiveOf('mismatch', Buffer.concat([tarFile('/PG_VERSION', '18\n'), END]));
    const target = path.join(tmp, 'mismatch');
    await mkdir(target);
    await expect(extractArchive(file, { ...manifest, sha256: '0'.repeat(64) }, target)).rejects.toThrow(ArchiveError);
    expect(await readdir(target)).toEqual([]);

    const notGzip = Buffer.from('this is not a gzip stream');
    await writeFile(file, notGzip);
    await expect(extractArchive(file, { ...manifest, sha256: createHash('sha256').update(notGzip).digest('hex') }, target)).rejects.toThrow(ArchiveError);
  });

  it('says why an archive does not fit: missing, another PGlite, other initdb settings', async () => {
    const dir = path.join(tmp, 'manifests');
    await mkdir(dir);
    expect(await checkArchive(INITDB_PARAMS, dir)).toEqual({ usable: false, reason: `there is none in ${dir}` });
    const manifest = { format: 1, pglite: '0.0.1', initdbParams: [...INITDB_PARAMS], sha256: '', bytes: 0, createdAt: '' };
    await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
    expect(await checkArchive(INITDB_PARAMS, dir)).toMatchObject({ usable: false, reason: expect.stringContaining(`made for PGlite 0.0.1, this is PGlite ${await pgliteVersion()}`) });
    await writeFile(path.join(dir, 'manifest.json'), JSON.stringify({ ...manifest, pglite: await pgliteVersion() }));
    expect(await checkArchive(['-c', 'shared_buffers=128MB'], dir)).toMatchObject({ usable: false, reason: expect.stringContaining('initdb settings') });
  });
});
