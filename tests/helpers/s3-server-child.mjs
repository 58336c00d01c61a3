/**
 * The test S3 server, run in a child node by `s3-server.ts` as
 * `node --openssl-legacy-provider s3-server-child.mjs DIR` (s3rver 3.7 makes ListObjectsV2
 * continuation tokens with DES, which OpenSSL 3 keeps in its legacy provider). It listens on
 * 127.0.0.1 and a free port, prints `{"port": N}` on stdout, and exits when its stdin closes (so it
 * never outlives the test process).
 *
 * s3rver, with these changes so that it behaves like S3 where the tests look:
 * - PutObject and UploadPart write to a temp file and rename it into place once the whole body
 *   arrived (s3rver writes in place, so a dropped connection would leave a torn object under the
 *   key, which S3 never does); an aborted body is dropped.
 * - UploadPart and CompleteMultipartUpload answer NoSuchUpload for an upload that does not exist
 *   (aborted), and Complete answers InvalidPart when a part is missing or its ETag is not the part's.
 * - ListObjectsV2 returns keys in key order (s3rver walks folders in readdir order, so its pages
 *   would overlap or skip keys).
 * - ListMultipartUploads and AbortMultipartUpload, which s3rver lacks, answered here from its
 *   uploads folder (an upload's Initiated time is the mtime of its `key` file). These two skip
 *   the signature check.
 * - A body sent with a streaming signature (`x-amz-content-sha256:
 *   STREAMING-AWS4-HMAC-SHA256-PAYLOAD`, `aws-chunked` framing: what restic's minio-go sends over
 *   plain HTTP) is stored without its framing (s3rver would store the chunk headers as data); the
 *   chunk signatures are not checked, and `aws-chunked` is not kept as the Content-Encoding.
 * Not supported (answered NotImplemented or MethodNotAllowed by s3rver): ListParts, checksums
 * (x-amz-checksum-*), Content-MD5 verification, conditional writes.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import S3rver from 's3rver';
import S3Error from 's3rver/lib/models/error.js';
import FilesystemStore from 's3rver/lib/stores/filesystem.js';

const root = process.argv[2];
const dataDir = path.join(root, 'data');
const tmpDir = path.join(root, 'tmp');
fs.mkdirSync(dataDir, { recursive: true });
fs.mkdirSync(tmpDir, { recursive: true });

const STREAMING_SIGNED = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';

/** True for a request whose body is `aws-chunked` with chunk signatures. */
function isChunkedBody(content) {
  return content?.headers?.['x-amz-content-sha256'] === STREAMING_SIGNED;
}

/**
 * The data of an `aws-chunked` body: chunks of `<hex size>;chunk-signature=<sig>\r\n<data>\r\n`,
 * ending with a chunk of size 0. A malformed frame throws (the request fails, nothing is stored).
 * The request is read to its end either way: leaving the loop early would destroy the request,
 * and with it the socket s3rver reads the client's address from after the store returns.
 */
async function* unchunk(source) {
  let buf = Buffer.alloc(0);
  let left = -1; // data bytes left in the current chunk; -1: expecting a chunk header
  let ended = false;
  for await (const piece of source) {
    if (ended) continue;
    buf = buf.length === 0 ? piece : Buffer.concat([buf, piece]);
    for (;;) {
      if (left < 0) {
        const eol = buf.indexOf('\r\n');
        if (eol < 0) break;
        const size = parseInt(buf.subarray(0, eol).toString('latin1').split(';')[0], 16);
        if (!Number.isInteger(size) || size < 0) throw new S3Error('IncompleteBody', 'malformed aws-chunked frame');
        buf = buf.subarray(eol + 2);
        if (size === 0) {
          ended = true;
          break;
        }
        left = size;
      }
      if (left > 0) {
        if (buf.length === 0) break;
        const data = buf.subarray(0, left);
        buf = buf.subarray(data.length);
        left -= data.length;
        yield data;
      }
      if (left === 0) {
        if (buf.length < 2) break;
        buf = buf.subarray(2); // the \r\n after the data
        left = -1;
      }
    }
  }
  if (!ended) throw new S3Error('IncompleteBody', 'the aws-chunked body ended before its last chunk');
}

/** Writes `content` (a stream) to `file` through a temp file; resolves `{ size, md5 }` only once it all arrived. */
async function writeWhole(content, file) {
  const tmp = path.join(tmpDir, crypto.randomBytes(8).toString('hex'));
  const md5 = crypto.createHash('md5');
  let size = 0;
  try {
    await pipeline(
      isChunkedBody(content) ? unchunk(content) : content,
      async function* (source) {
        for await (const chunk of source) {
          md5.update(chunk);
          size += chunk.length;
          yield chunk;
        }
      },
      fs.createWriteStream(tmp),
    );
    await fsp.mkdir(path.dirname(file), { recursive: true });
    await fsp.rename(tmp, file);
    return { size, md5: md5.digest('hex') };
  } finally {
    await fsp.rm(tmp, { force: true });
  }
}

class AtomicStore extends FilesystemStore {
  uploadDir(bucket, uploadId) {
    return path.join(this.getResourcePath(bucket, undefined, 'uploads'), uploadId);
  }

  async assertUpload(bucket, uploadId) {
    if (!/^[0-9a-f]+$/.test(uploadId ?? '') || !fs.existsSync(path.join(this.uploadDir(bucket, uploadId), 'key'))) {
      throw new S3Error('NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.', { UploadId: uploadId });
    }
  }

  async putObject(object) {
    if (Buffer.isBuffer(object.content)) return super.putObject(object);
    const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
    if (object.metadata['content-encoding'] === 'aws-chunked') delete object.metadata['content-encoding'];
    const { size, md5 } = await writeWhole(object.content, objectPath);
    await this.putMetadata(object.bucket, object.key, object.metadata, md5);
    return { size, md5 };
  }

  async putPart(bucket, uploadId, partNumber, content) {
    await this.assertUpload(bucket, uploadId);
    const partPath = path.join(this.uploadDir(bucket, uploadId), String(partNumber));
    const { size, md5 } = await writeWhole(content, partPath);
    await fsp.writeFile(`${partPath}.md5`, md5);
    return { size, md5 };
  }

  async putObjectMultipart(bucket, uploadId, parts) {
    await this.assertUpload(bucket, uploadId);
    for (const part of parts) {
      const file = path.join(this.uploadDir(bucket, uploadId), String(part.number));
      const md5 = await fsp.readFile(`${file}.md5`, 'utf8').catch(() => null);
      if (md5 === null || md5 !== part.etag) throw new S3Error('InvalidPart', 'One or more of the specified parts could not be found or its ETag did not match.', { PartNumber: part.number });
    }
    return super.putObjectMultipart(bucket, uploadId, parts);
  }

  async listObjects(bucket, options) {
    const { startAfter = '', maxKeys = Infinity } = options;
    const all = await super.listObjects(bucket, { ...options, startAfter: '', maxKeys: Infinity });
    const after = all.objects.filter((o) => o.key > startAfter).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return { objects: after.slice(0, maxKeys), commonPrefixes: all.commonPrefixes, isTruncated: after.length > maxKeys };
  }
}

const store = new AtomicStore(dataDir);
const s3rver = new S3rver({ directory: dataDir, silent: true, vhostBuckets: false, address: '127.0.0.1', port: 0 });
s3rver.store = s3rver.context.store = store;
const handle = s3rver.callback();

const xmlEscape = (s) => String(s).replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

function sendXml(res, status, body) {
  const text = `<?xml version="1.0" encoding="UTF-8"?>\n${body}`;
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res, err) {
  sendXml(res, err.status, `<Error><Code>${err.code}</Code><Message>${xmlEscape(err.message)}</Message></Error>`);
}

/** ListMultipartUploads for `bucket`, in (key, uploadId) order, with prefix, markers and max-uploads. */
async function listUploads(bucket, query, res) {
  const dir = store.getResourcePath(bucket, undefined, 'uploads');
  const names = await fsp.readdir(dir).catch(() => []);
  const uploads = [];
  for (const uploadId of names) {
    const keyFile = path.join(dir, uploadId, 'key');
    const key = await fsp.readFile(keyFile, 'utf8').catch(() => null);
    if (key === null) continue;
    uploads.push({ key, uploadId, initiated: (await fsp.stat(keyFile)).mtime });
  }
  const prefix = query.get('prefix') ?? '';
  const keyMarker = query.get('key-marker') ?? '';
  const idMarker = query.get('upload-id-marker') ?? '';
  const max = Math.min(1000, Number(query.get('max-uploads') ?? 1000));
  const after = (u) => u.key > keyMarker || (u.key === keyMarker && idMarker !== '' && u.uploadId > idMarker);
  const matching = uploads
    .filter((u) => u.key.startsWith(prefix) && (keyMarker === '' || after(u)))
    .sort((a, b) => (a.key === b.key ? (a.uploadId < b.uploadId ? -1 : 1) : a.key < b.key ? -1 : 1));
  const page = matching.slice(0, max);
  const truncated = matching.length > max;
  const last = page[page.length - 1];
  sendXml(
    res,
    200,
    `<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>${xmlEscape(bucket)}</Bucket>` +
      `<KeyMarker>${xmlEscape(keyMarker)}</KeyMarker><UploadIdMarker>${xmlEscape(idMarker)}</UploadIdMarker>` +
      (truncated ? `<NextKeyMarker>${xmlEscape(last.key)}</NextKeyMarker><NextUploadIdMarker>${last.uploadId}</NextUploadIdMarker>` : '') +
      `<Prefix>${xmlEscape(prefix)}</Prefix><MaxUploads>${max}</MaxUploads><IsTruncated>${truncated}</IsTruncated>` +
      page.map((u) => `<Upload><Key>${xmlEscape(u.key)}</Key><UploadId>${u.uploadId}</UploadId><Initiated>${u.initiated.toISOString()}</Initiated></Upload>`).join('') +
      '</ListMultipartUploadsResult>',
  );
}

/** AbortMultipartUpload: removes the upload's folder (its parts); 204, or NoSuchUpload. */
async function abortUpload(bucket, uploadId, res) {
  await store.assertUpload(bucket, uploadId);
  await fsp.rm(store.uploadDir(bucket, uploadId), { recursive: true, force: true });
  res.writeHead(204);
  res.end();
}

/** Answers the calls s3rver lacks; true when it did. */
async function extra(req, res) {
  const url = new URL(req.url, 'http://localhost');
  const [bucket, ...rest] = url.pathname.slice(1).split('/');
  const key = decodeURIComponent(rest.join('/'));
  if (req.method === 'GET' && key === '' && url.searchParams.has('uploads')) {
    await listUploads(decodeURIComponent(bucket), url.searchParams, res);
    return true;
  }
  if (req.method === 'DELETE' && key !== '' && url.searchParams.has('uploadId')) {
    await abortUpload(decodeURIComponent(bucket), url.searchParams.get('uploadId'), res);
    return true;
  }
  return false;
}

const server = http.createServer((req, res) => {
  extra(req, res).then(
    (done) => {
      if (!done) handle(req, res);
    },
    (err) => sendError(res, err instanceof S3Error ? err : new S3Error('InternalError', String(err?.message ?? err))),
  );
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
