import type { Readable } from 'node:stream';

/**
 * One event log to load, wherever it is stored: a local file or an S3 object, plain or gzip.
 * Resolving an input (see resolve-inputs.ts) lists these without reading their content, so an
 * unchanged one can be skipped on the manifest's word alone (see ../manifest.ts).
 */
export interface InputObject {
  /** The path or s3:// URL, as recorded in raw.event.source_file, the quarantine and the manifest. */
  readonly url: string;
  /** Stored bytes (compressed, for gzip). */
  readonly size: number;
  /**
   * What tells this version from another without reading it: `mtime:<ns>` for a local file (with
   * its size), the ETag for an S3 object. Equal url, size and version mean "unchanged".
   */
  readonly version: string;
  readonly gzip: boolean;
  /**
   * The stored bytes from the start, streamed. `range` limits the read to the first bytes (the
   * header check). Fails with an InputFileError naming the url when the object is gone or changed.
   */
  open(options?: { firstBytes?: number }): Promise<Readable>;
}

export const GZIP_SUFFIX = '.gz';

/** Names a directory or S3 prefix contributes: event logs, plain or gzip. */
export function isEventLogName(name: string): boolean {
  return name.endsWith('.csv') || name.endsWith('.csv.gz');
}
