import type { IngestResult } from '../ingest/ingest.js';
import type { DataTestReport } from '../quality/run-data-tests.js';

/**
 * Errors the CLI turns into one line on stderr and a documented exit code (see README, "Exit codes").
 * Anything else is a bug: exit 1, with the stack trace under --verbose.
 */
export const EXIT_CODES = {
  ok: 0,
  internal: 1,
  usage: 2,
  configuration: 3,
  input: 4,
  rejectRatio: 5,
  dataTests: 6,
  database: 7,
  lockTimeout: 8,
  inputStorage: 9,
} as const;

export class PipelineError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ConfigurationError extends PipelineError {
  constructor(message: string) {
    super(message, EXIT_CODES.configuration);
  }
}

/** A whole-file problem: missing, empty, wrong header. Nothing of the run is loaded. */
export class InputFileError extends PipelineError {
  constructor(message: string) {
    super(message, EXIT_CODES.input);
  }
}

/**
 * Object storage that could not be reached or kept failing (connection refused, timeouts, 5xx)
 * after the retries: waiting may heal it, so it has an exit code of its own. Credentials and a
 * missing bucket are not this: they are ConfigurationError and InputFileError, never retried.
 */
export class InputStorageUnavailableError extends PipelineError {
  constructor(message: string) {
    super(message, EXIT_CODES.inputStorage);
  }
}

/** A file's rejected rows exceeded --max-reject-ratio; `ingest` is what the step did, for the run log and the summary. */
export class RejectRatioExceededError extends PipelineError {
  constructor(
    message: string,
    readonly ingest: IngestResult,
  ) {
    super(message, EXIT_CODES.rejectRatio);
  }
}

/** Data tests of severity error failed (the quality gate); `report` holds every test's result. */
export class DataTestsFailedError extends PipelineError {
  constructor(
    message: string,
    readonly report: DataTestReport,
  ) {
    super(message, EXIT_CODES.dataTests);
  }
}

export class DatabaseUnavailableError extends PipelineError {
  constructor(message: string) {
    super(message, EXIT_CODES.database);
  }
}

/** Another process held the pipeline lock (or the embedded database) longer than INSTAPRO_LOCK_TIMEOUT. */
export class LockTimeoutError extends PipelineError {
  constructor(message: string) {
    super(message, EXIT_CODES.lockTimeout);
  }
}

/** The user's own input to a command was refused, e.g. the SQL given to `instapro sql`. */
export class UsageError extends PipelineError {
  constructor(message: string) {
    super(message, EXIT_CODES.usage);
  }
}
