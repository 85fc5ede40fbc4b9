import type { Settings } from '../config/settings.js';
import { databaseTarget } from '../config/settings.js';
import type { Database } from './database.js';
import { openEmbedded } from './embedded.js';
import { openServer } from './server.js';

export interface OpenOptions {
  /** Diagnostics: connection retries, another process holding the embedded database, how a new one was created. */
  log?: (message: string) => void;
}

/** Opens the configured backend: a server when a URL or host is set, else the embedded database. */
export async function openDatabase(settings: Settings, options: OpenOptions = {}): Promise<Database> {
  const target = databaseTarget(settings);
  if (target.kind === 'embedded') return openEmbedded(target.dataDir, { timeoutSeconds: settings.lockTimeoutSeconds, onWait: options.log, log: options.log });
  return openServer(target, {
    retries: settings.connectRetries,
    initialDelayMs: settings.connectRetryDelayMs,
    onRetry: options.log,
  });
}
