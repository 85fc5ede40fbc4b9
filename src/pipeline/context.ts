import type { Settings } from '../config/settings.js';
import type { Database } from '../db/database.js';
import type { SchemaNames } from '../db/sql-files.js';

/** What every step gets: the open database, the schema names, settings and the current run. */
export interface PipelineContext {
  db: Database;
  schemas: SchemaNames;
  settings: Settings;
  runId: number;
  /** Diagnostics for a person (stderr); silent under --json. */
  log: (message: string) => void;
  /** Progress reporting on a terminal; a no-op elsewhere. */
  progress: ProgressReporter;
}

export interface ProgressReporter {
  /** A pass over input of known size: rows, MB/s and ETA follow from update(). */
  start(label: string, totalBytes?: number): void;
  update(rows: number, bytes: number): void;
  /** Work whose size is unknown (a long SQL statement): the label and the time spent so far. */
  activity(label: string): void;
  stop(): void;
}

export const silentProgress: ProgressReporter = { start: () => undefined, update: () => undefined, activity: () => undefined, stop: () => undefined };

export function schemaNames(settings: Settings): SchemaNames {
  return { mart: settings.martSchema, raw: settings.rawSchema, staging: settings.stagingSchema };
}
