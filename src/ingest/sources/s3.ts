import { GetObjectCommand, S3Client, S3ServiceException, paginateListObjectsV2 } from '@aws-sdk/client-s3';
import pRetry, { AbortError } from 'p-retry';
import type { Readable } from 'node:stream';
import type { Settings } from '../../config/settings.js';
import { ConfigurationError, InputFileError, InputStorageUnavailableError, PipelineError } from '../../util/errors.js';
import type { InputObject } from './input-object.js';
import { GZIP_SUFFIX, isEventLogName } from './input-object.js';
import { byPath } from './local.js';

/** Error codes that waiting cannot heal: the credentials or the bucket are wrong. Never retried. */
const CREDENTIAL_ERRORS = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'ExpiredToken', 'InvalidToken', 'AuthorizationHeaderMalformed', 'Forbidden']);
/** Without a response at all (nothing listens, DNS, timeouts) or with a 5xx, waiting may heal it. */
const UNREACHABLE_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'TimeoutError', 'RequestTimeout']);

/** The store's S3 client and how to reach it; one per ingest. */
export class S3Store {
  private readonly client: S3Client;
  /** Where the store is, for messages (never a key). */
  readonly endpoint: string;

  constructor(
    private readonly settings: Settings,
    /** Diagnostics for a person: each retry. */
    private readonly log: (message: string) => void = () => undefined,
  ) {
    // The pinned SDK runs on Node 20 (our floor); its notice that later releases will need Node 22
    // would otherwise be printed on stderr by every run (docs/landing-zone.md, "Node 20").
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const endpoint = settings.awsEndpointUrlS3 ?? settings.awsEndpointUrl;
    this.endpoint = endpoint ?? `AWS S3 (${settings.awsRegion})`;
    this.client = new S3Client({
      region: settings.awsRegion,
      ...(endpoint ? { endpoint } : {}),
      forcePathStyle: settings.s3ForcePathStyle,
      ...(settings.awsAccessKeyId && settings.awsSecretAccessKey
        ? { credentials: { accessKeyId: settings.awsAccessKeyId, secretAccessKey: settings.awsSecretAccessKey } }
        : {}),
      // Retries are ours (p-retry below), so that credential and missing-bucket errors are never retried.
      maxAttempts: 1,
      requestHandler: { connectionTimeout: 10_000, requestTimeout: 60_000 },
      // Checksums only where S3 requires them: other stores implement the newer ones unevenly.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  /** Every event log (`*.csv`, `*.csv.gz`) under the prefix of `s3://bucket/prefix`, sorted by key. */
  async resolve(url: string): Promise<InputObject[]> {
    const { bucket, prefix } = parseS3Url(url);
    const listed = await this.withRetries(url, async () => {
      const objects: { key: string; size: number; etag: string }[] = [];
      for await (const page of paginateListObjectsV2({ client: this.client }, { Bucket: bucket, Prefix: prefix })) {
        for (const o of page.Contents ?? []) {
          if (o.Key && isEventLogName(o.Key)) objects.push({ key: o.Key, size: o.Size ?? 0, etag: o.ETag ?? '' });
        }
      }
      return objects;
    });
    if (listed.length === 0) throw new InputFileError(`${url}: no *.csv or *.csv.gz object under this prefix (an empty partition)`);
    return listed.sort((a, b) => byPath(a.key, b.key)).map((o) => this.object(bucket, o));
  }

  private object(bucket: string, listed: { key: string; size: number; etag: string }): InputObject {
    const url = `s3://${bucket}/${listed.key}`;
    return {
      url,
      size: listed.size,
      version: `etag:${listed.etag}`,
      gzip: listed.key.endsWith(GZIP_SUFFIX),
      open: (options = {}) =>
        this.withRetries(url, async () => {
          // IfMatch: the object listed, or an error, never a newer version read as if it were the listed one.
          const response = await this.client.send(
            new GetObjectCommand({ Bucket: bucket, Key: listed.key, IfMatch: listed.etag || undefined, ...(options.firstBytes ? { Range: `bytes=0-${options.firstBytes - 1}` } : {}) }),
          );
          return response.Body as Readable;
        }),
    };
  }

  /** Retries what may heal with time (p-retry, doubling delays: INSTAPRO_CONNECT_RETRIES); one-line errors naming the URL. */
  private async withRetries<T>(url: string, action: () => Promise<T>): Promise<T> {
    const attempts = this.settings.connectRetries + 1;
    try {
      return await pRetry(
        async () => {
          try {
            return await action();
          } catch (error) {
            const failure = this.classify(url, error);
            throw failure instanceof InputStorageUnavailableError ? failure : new AbortError(failure);
          }
        },
        {
          retries: this.settings.connectRetries,
          minTimeout: this.settings.connectRetryDelayMs,
          factor: 2,
          randomize: false,
          onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
            if (retriesLeft > 0) this.log(`${error.message} (attempt ${attemptNumber}); retrying`);
          },
        },
      );
    } catch (error) {
      if (error instanceof InputStorageUnavailableError) {
        throw new InputStorageUnavailableError(`${error.message} (after ${attempts} attempt${attempts === 1 ? '' : 's'})`);
      }
      throw error;
    }
  }

  /** An S3 SDK error as a PipelineError naming the URL and the endpoint, never a credential. */
  classify(url: string, error: unknown): PipelineError {
    if (error instanceof PipelineError) return error;
    const { name, code, status } = errorFacts(error);
    const where = `S3 store at ${this.endpoint}`;
    if (name === 'NoSuchBucket') return new InputFileError(`${url}: bucket ${parseS3Url(url).bucket} does not exist at the ${where}`);
    if (name === 'NoSuchKey' || (status === 404 && name !== 'NotFound')) return new InputFileError(`${url}: object no longer exists (removed after it was listed); run again`);
    if (name === 'PreconditionFailed' || status === 412) return new InputFileError(`${url}: object changed after it was listed; run again`);
    if (CREDENTIAL_ERRORS.has(name) || status === 403 || status === 401) {
      return new ConfigurationError(`${url}: access denied by the ${where} (${name}): check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`);
    }
    if (UNREACHABLE_ERRORS.has(code) || UNREACHABLE_ERRORS.has(name) || (status !== undefined && status >= 500)) {
      return new InputStorageUnavailableError(`${url}: cannot reach the ${where}: ${code || name}${status ? ` (HTTP ${status})` : ''}`);
    }
    if (name === 'NotFound' || status === 404) return new InputFileError(`${url}: not found at the ${where}`);
    return new InputStorageUnavailableError(`${url}: the ${where} failed: ${code || name}${status ? ` (HTTP ${status})` : ''}`);
  }
}

function errorFacts(error: unknown): { name: string; code: string; status: number | undefined } {
  const e = error as { name?: string; code?: string; Code?: string; $metadata?: { httpStatusCode?: number }; cause?: { code?: string } };
  const status = error instanceof S3ServiceException ? error.$metadata.httpStatusCode : e.$metadata?.httpStatusCode;
  return { name: e.Code ?? e.name ?? 'Error', code: e.code ?? e.cause?.code ?? '', status };
}

export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!match) throw new ConfigurationError(`${url}: not an s3://bucket/prefix URL`);
  return { bucket: match[1] as string, prefix: match[2] as string };
}
