import { open, readdir, stat } from 'node:fs/promises';
import type { BigIntStats, Stats } from 'node:fs';
import type { Readable } from 'node:stream';
import { InputFileError } from '../../util/errors.js';
import type { InputObject } from './input-object.js';
import { GZIP_SUFFIX, isEventLogName } from './input-object.js';

/** Reads of this size keep the line reader's work per chunk what it was when it read the file itself. */
const READ_CHUNK_BYTES = 128 * 1024;
const GLOB_CHARACTERS = /[*?[]/;

/**
 * A local input: a file (any name; `.gz` is read as gzip), a directory (every `*.csv` and
 * `*.csv.gz` below it, recursively) or a glob pattern (`*`, `?`, `[abc]` within a path segment,
 * `**` across segments). Directories and patterns list names starting with "." nowhere (partial
 * uploads are usually named so); the result is sorted by path. Nothing is read here.
 */
export async function resolveLocalInput(spec: string): Promise<InputObject[]> {
  if (GLOB_CHARACTERS.test(spec)) {
    const objects = await resolveGlob(spec);
    if (objects.length === 0) throw new InputFileError(`${spec}: no file matches this pattern`);
    return objects;
  }
  const info = await statInput(spec);
  if (info.isDirectory()) {
    const files = (await walk(spec.replace(/\/+$/, '') || '/')).filter((file) => isEventLogName(file));
    if (files.length === 0) throw new InputFileError(`${spec}: directory holds no *.csv or *.csv.gz file`);
    return Promise.all(files.sort(byPath).map(async (file) => localObject(file, await statInput(file))));
  }
  if (!info.isFile()) throw new InputFileError(`${spec}: not a regular file`);
  return [localObject(spec, info)];
}

function localObject(file: string, info: BigIntStats): InputObject {
  return {
    url: file,
    size: Number(info.size),
    // A rewrite changes the mtime, an atomic replace (rename) the inode, even when the size stays.
    version: `mtime:${info.mtimeNs},ino:${info.ino}`,
    gzip: file.endsWith(GZIP_SUFFIX),
    async open(options = {}): Promise<Readable> {
      let handle;
      try {
        handle = await open(file, 'r');
      } catch (error) {
        throw new InputFileError(`${file}: ${describeFileError(error)}`);
      }
      return handle.createReadStream({ highWaterMark: READ_CHUNK_BYTES, ...(options.firstBytes ? { start: 0, end: options.firstBytes - 1 } : {}) });
    },
  };
}

/** bigint: the nanosecond mtime, exact. */
async function statInput(file: string): Promise<BigIntStats> {
  try {
    return await stat(file, { bigint: true });
  } catch (error) {
    throw new InputFileError(`${file}: ${describeFileError(error)}`);
  }
}

export function describeFileError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'file not found';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'not a regular file';
  return (error as Error).message;
}

/** Every regular file below `dir` (symbolic links to files included, to directories not followed), dot-names skipped. */
async function walk(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    throw new InputFileError(`${dir}: ${describeFileError(error)}`);
  }
  const files: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const full = dir === '/' ? `/${entry.name}` : `${dir}/${entry.name}`;
    if (entry.isDirectory()) files.push(...(await walk(full)));
    else if (entry.isFile()) files.push(full);
    else if (entry.isSymbolicLink() && (await stat(full).catch(() => null))?.isFile()) files.push(full);
  }
  return files;
}

async function resolveGlob(pattern: string): Promise<InputObject[]> {
  const segments = pattern.split('/');
  const firstGlob = segments.findIndex((segment) => GLOB_CHARACTERS.test(segment));
  const base = segments.slice(0, firstGlob).join('/');
  const root = base === '' ? (pattern.startsWith('/') ? '/' : '.') : base;
  let info: Stats | null = null;
  try {
    info = await stat(root);
  } catch {
    // A pattern below a directory that does not exist matches nothing.
  }
  if (!info?.isDirectory()) return [];
  const matcher = globToRegExp(pattern);
  // Walked from `root`, written as the pattern writes it, so "./in/*.csv" matches "./in/a.csv".
  const candidates = (await walk(root)).map((file) => (base === '' && !pattern.startsWith('/') ? file.replace(/^\.\//, '') : file));
  const matches = candidates.filter((file) => matcher.test(file)).sort(byPath);
  return Promise.all(matches.map(async (file) => localObject(file, await statInput(file))));
}

/** A glob pattern as a regular expression over whole paths: `*` and `?` stay within a segment, `**` spans any. */
export function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*' && pattern[i + 1] === '*') {
      const wholeSegment = (i === 0 || pattern[i - 1] === '/') && pattern[i + 2] === '/';
      source += wholeSegment ? '(?:[^/]+/)*' : '.*';
      i += wholeSegment ? 2 : 1;
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close < 0) source += '\\[';
      else {
        const body = pattern.slice(i + 1, close).replace(/^!/, '^').replace(/\\/g, '\\\\');
        source += `[${body}]`;
        i = close;
      }
    } else source += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/** Code-unit order, the same on every machine and locale. */
export function byPath(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
