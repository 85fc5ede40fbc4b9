/**
 * The S3-compatible test server (SeaweedFS, see scripts/ci/start-seaweedfs.sh): tests that need it
 * run when INSTAPRO_TEST_S3_ENDPOINT and its keys are set, and are skipped otherwise, unless
 * INSTAPRO_REQUIRE_S3=1 (CI), where its absence is a failure.
 */
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

export interface S3TestServer {
  endpoint: string;
  accessKey: string;
  secretKey: string;
}

export const S3_SERVER: S3TestServer | undefined =
  process.env.INSTAPRO_TEST_S3_ENDPOINT && process.env.INSTAPRO_TEST_S3_ACCESS_KEY && process.env.INSTAPRO_TEST_S3_SECRET_KEY
    ? { endpoint: process.env.INSTAPRO_TEST_S3_ENDPOINT, accessKey: process.env.INSTAPRO_TEST_S3_ACCESS_KEY, secretKey: process.env.INSTAPRO_TEST_S3_SECRET_KEY }
    : undefined;
export const S3_REQUIRED = process.env.INSTAPRO_REQUIRE_S3 === '1';

/** The pipeline's environment for the test server: the standard AWS variables, path-style addressing. */
export function s3Environment(server: S3TestServer): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_S3: server.endpoint,
    AWS_ACCESS_KEY_ID: server.accessKey,
    AWS_SECRET_ACCESS_KEY: server.secretKey,
    AWS_REGION: 'us-east-1',
    INSTAPRO_S3_FORCE_PATH_STYLE: 'true',
  };
}

/** A bucket of the test's own (random name) and a client to fill it, as a producer would. */
export class TestBucket {
  readonly name = `instapro-test-${randomBytes(5).toString('hex')}`;
  readonly client: S3Client;

  constructor(server: S3TestServer) {
    this.client = new S3Client({
      endpoint: server.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: server.accessKey, secretAccessKey: server.secretKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  url(key = ''): string {
    return `s3://${this.name}/${key}`;
  }

  async create(): Promise<this> {
    await this.client.send(new CreateBucketCommand({ Bucket: this.name }));
    return this;
  }

  async put(key: string, body: string | Buffer): Promise<string> {
    await this.client.send(new PutObjectCommand({ Bucket: this.name, Key: key, Body: body }));
    return this.url(key);
  }

  async remove(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.name, Key: key }));
  }

  async destroy(): Promise<void> {
    const { Contents } = await this.client.send(new ListObjectsV2Command({ Bucket: this.name }));
    for (const o of Contents ?? []) if (o.Key) await this.remove(o.Key);
    await this.client.send(new DeleteBucketCommand({ Bucket: this.name }));
    this.client.destroy();
  }
}
