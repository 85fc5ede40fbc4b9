/**
 * `npm run build`'s last step: prepares the empty data directory that new embedded databases are
 * unpacked from (data-dir-archive.ts), unless the one in dist/ is already for this PGlite and
 * these initdb settings. Runs as its own process, so initdb's memory peak is the build's.
 */
import path from 'node:path';
import { ARCHIVE_DIR, archiveIsCurrent, writeArchive } from './data-dir-archive.js';
import { INITDB_PARAMS } from './embedded.js';
import { PACKAGE_ROOT } from './sql-files.js';

const where = path.relative(PACKAGE_ROOT, ARCHIVE_DIR);
if (await archiveIsCurrent(INITDB_PARAMS)) {
  console.log(`${where}: the prepared embedded data directory is up to date`);
} else {
  const started = Date.now();
  const manifest = await writeArchive(INITDB_PARAMS);
  console.log(`${where}: prepared the embedded data directory for PGlite ${manifest.pglite} (${(manifest.bytes / 1024 / 1024).toFixed(1)} MB) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
