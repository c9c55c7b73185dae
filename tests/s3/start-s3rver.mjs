// Starts an S3-compatible test server for tests/unit/test_s3.c: s3rver 3.x on a private port in a
// temporary directory, behind a small proxy on a free loopback port that adds what s3rver lacks.
//
// s3rver 3.7 checks only that the access key id exists: it accepts any SigV4 signature, does not
// check x-amz-content-sha256 against the body, and has no AbortMultipartUpload or
// ListMultipartUploads. The proxy therefore:
//   - verifies every SigV4 signature (Authorization header or presigned query) with the secret
//     given on the command line, answering 403 SignatureDoesNotMatch / InvalidAccessKeyId /
//     AccessDenied (expired) as S3 does; unsigned requests are refused too;
//   - checks a hex x-amz-content-sha256 against the body (400 XAmzContentSHA256Mismatch);
//   - implements DELETE /bucket/key?uploadId=X (abort) and GET /bucket?uploads (list) on
//     s3rver's own upload directory (later requests for an aborted upload get NoSuchUpload);
//   - injects faults for keys that ask for them: a key containing "inject-500" gets HTTP 500 for
//     every UploadPart of part 2; a key containing "flaky-500" gets one 500 for part 1;
//   - counts what it saw (GET /__nova/stats, unsigned).
// Path-style addressing only. Prints "PORT <n>" on stdout when ready and exits when stdin closes
// (so a crashed test never leaves it behind), removing the temporary directory.
//
// Usage: node start-s3rver.mjs --access-key AK --secret-key SK --bucket NAME [--bucket ...]
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const S3rver = require('s3rver');
const AWSAccount = require('s3rver/lib/models/account');

const args = { keys: new Map(), buckets: [] };
{
  const argv = process.argv.slice(2);
  let ak = null;
  for (let i = 0; i < argv.length; i += 2) {
    const v = argv[i + 1];
    if (argv[i] === '--access-key') ak = v;
    else if (argv[i] === '--secret-key') args.keys.set(ak, v);
    else if (argv[i] === '--bucket') args.buckets.push(v);
    else throw new Error(`unknown argument ${argv[i]}`);
  }
}
if (!args.keys.size || !args.buckets.length) {
  console.error('usage: start-s3rver.mjs --access-key AK --secret-key SK --bucket NAME');
  process.exit(2);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nova-s3rver-'));
const stats = { signed_ok: 0, rejected: 0, payload_checked: 0, payload_mismatch: 0, aborted: 0,
  injected: 0, server_errors: 0 };
const flakyDone = new Set();
// Aborted upload ids: like S3, later requests for them get NoSuchUpload and they are not listed.
// Their files are removed only once no forwarded request for them is open: s3rver crashes when
// the directory disappears under a part it is still writing (a part our client cancelled).
const aborted = new Set();
const openByUpload = new Map();
function removeIfIdle(bucket, id) {
  if (aborted.has(id) && !openByUpload.get(id))
    fs.rmSync(path.join(uploadsDir(bucket), id), { recursive: true, force: true });
}

// s3rver needs the key pair registered too, or it refuses the key before our check matters.
for (const [ak, sk] of args.keys) AWSAccount.DUMMY_ACCOUNT.createKeyPair(ak, sk);

const backend = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory: dir,
  vhostBuckets: false,
  configureBuckets: args.buckets.map((name) => ({ name, configs: [] })),
});
const inner = await backend.run();

const xmlEscape = (s) =>
  String(s).replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;',
    '"': '&quot;' })[c]);

function sendError(res, status, code, message) {
  stats.rejected++;
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code>` +
    `<Message>${xmlEscape(message)}</Message><RequestId>nova-test</RequestId></Error>`;
  // Connection: close after refusing a request whose body was not read (and for the odd
  // interplay between Node's keep-alive handling and curl: a refused request on a reused
  // connection sometimes left the next one waiting for Node's 30 s connection check).
  res.writeHead(status, { 'Content-Type': 'application/xml', 'x-amz-request-id': 'nova-test',
    'Content-Length': Buffer.byteLength(body), Connection: 'close' });
  res.end(body);
}

// RFC 3986 encoding as SigV4 wants it (encodeURIComponent leaves !'()* alone).
const uriEncode = (s) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());

function parseQuery(raw) {
  if (!raw) return [];
  return raw.split('&').filter((p) => p.length).map((p) => {
    const eq = p.indexOf('=');
    const n = eq < 0 ? p : p.slice(0, eq);
    const v = eq < 0 ? '' : p.slice(eq + 1);
    return [decodeURIComponent(n), decodeURIComponent(v)];
  });
}

const hmac = (key, data) => createHmac('sha256', key).update(data, 'utf8').digest();
const sha256hex = (data) => createHash('sha256').update(data).digest('hex');

// Returns null when the request is signed correctly, else [status, code, message].
function verify(req, rawPath, query) {
  const q = new Map(query);
  let algo, credential, signedHeaders, signature, amzDate, payloadHash, expires = null;
  const auth = req.headers.authorization;
  if (auth) {
    const m = /^AWS4-HMAC-SHA256 Credential=([^,]+), ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
    if (!m) return [400, 'AuthorizationHeaderMalformed', 'malformed Authorization header'];
    [, credential, signedHeaders, signature] = m;
    algo = 'header';
    amzDate = req.headers['x-amz-date'];
    payloadHash = req.headers['x-amz-content-sha256'];
    if (!payloadHash) return [400, 'InvalidRequest', 'missing x-amz-content-sha256'];
  } else if (q.has('X-Amz-Algorithm')) {
    if (q.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256')
      return [400, 'AuthorizationQueryParametersError', 'bad X-Amz-Algorithm'];
    algo = 'query';
    credential = q.get('X-Amz-Credential');
    signedHeaders = q.get('X-Amz-SignedHeaders');
    signature = q.get('X-Amz-Signature');
    amzDate = q.get('X-Amz-Date');
    expires = Number(q.get('X-Amz-Expires'));
    payloadHash = q.get('X-Amz-Content-Sha256') || 'UNSIGNED-PAYLOAD';
    if (!credential || !signedHeaders || !signature || !amzDate || !(expires >= 1))
      return [400, 'AuthorizationQueryParametersError', 'incomplete presigned query'];
  } else {
    return [403, 'AccessDenied', 'anonymous access is not allowed'];
  }
  const scope = credential.split('/');
  if (scope.length !== 5 || scope[3] !== 's3' || scope[4] !== 'aws4_request')
    return [400, 'AuthorizationHeaderMalformed', 'bad credential scope'];
  const secret = args.keys.get(scope[0]);
  if (secret === undefined)
    return [403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.'];
  const dm = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate || '');
  if (!dm || amzDate.slice(0, 8) !== scope[1]) return [403, 'AccessDenied', 'bad X-Amz-Date'];
  const t = Date.UTC(+dm[1], +dm[2] - 1, +dm[3], +dm[4], +dm[5], +dm[6]);
  if (algo === 'header' && Math.abs(Date.now() - t) > 15 * 60 * 1000)
    return [403, 'RequestTimeTooSkewed', 'request time too skewed'];
  if (algo === 'query' && Date.now() > t + expires * 1000)
    return [403, 'AccessDenied', 'Request has expired'];

  const names = signedHeaders.split(';');
  if (!names.includes('host')) return [403, 'AccessDenied', 'host must be signed'];
  const distinct = req.headersDistinct;
  const canonHeaders = names.map((n) => {
    const vals = distinct[n];
    const v = vals ? vals.map((x) => x.trim().replace(/\s+/g, ' ')).join(',') : '';
    return `${n}:${v}\n`;
  }).join('');
  const canonQuery = query
    .filter(([n]) => !(algo === 'query' && n === 'X-Amz-Signature'))
    .map(([n, v]) => [uriEncode(n), uriEncode(v)])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([n, v]) => `${n}=${v}`)
    .join('&');
  // S3: the canonical URI is the path exactly as sent (single encoding, no normalization).
  const creq = [req.method, rawPath || '/', canonQuery, canonHeaders, signedHeaders, payloadHash]
    .join('\n');
  const sts = ['AWS4-HMAC-SHA256', amzDate, scope.slice(1).join('/'), sha256hex(creq)].join('\n');
  let k = hmac('AWS4' + secret, scope[1]);
  k = hmac(k, scope[2]);
  k = hmac(k, 's3');
  k = hmac(k, 'aws4_request');
  const want = Buffer.from(hmac(k, sts).toString('hex'));
  const got = Buffer.from(signature);
  if (want.length !== got.length || !timingSafeEqual(want, got))
    return [403, 'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided.'];
  return null;
}

function uploadsDir(bucket) {
  return path.join(dir, bucket, '._S3rver_uploads');
}

function listUploads(res, bucket) {
  let entries = [];
  try {
    entries = fs.readdirSync(uploadsDir(bucket));
  } catch {
    entries = [];
  }
  const items = [];
  for (const id of entries) {
    const d = path.join(uploadsDir(bucket), id);
    if (aborted.has(id) || !fs.existsSync(path.join(d, 'key'))) continue;
    const key = fs.readFileSync(path.join(d, 'key'), 'utf8');
    items.push(`<Upload><Key>${xmlEscape(key)}</Key><UploadId>${id}</UploadId></Upload>`);
  }
  const body = '<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult>' +
    `<Bucket>${xmlEscape(bucket)}</Bucket>${items.join('')}</ListMultipartUploadsResult>`;
  res.writeHead(200, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function abortUpload(res, bucket, uploadId) {
  const d = path.join(uploadsDir(bucket), uploadId);
  if (!/^[0-9a-f]+$/.test(uploadId) || !fs.existsSync(d))
    return sendError(res, 404, 'NoSuchUpload', 'The specified upload does not exist.');
  aborted.add(uploadId);
  removeIfIdle(bucket, uploadId);
  stats.aborted++;
  res.writeHead(204);
  res.end();
}

function forward(req, res, body, bucket, uploadId) {
  if (uploadId) openByUpload.set(uploadId, (openByUpload.get(uploadId) || 0) + 1);
  const headers = { ...req.headers };
  if (body !== null) headers['content-length'] = String(body.length);
  const up = http.request({ host: '127.0.0.1', port: inner.port, method: req.method, path: req.url,
    headers }, (ur) => {
    res.writeHead(ur.statusCode, ur.headers);
    ur.pipe(res);
  });
  up.on('error', (e) => {
    if (!res.headersSent) sendError(res, 502, 'BadGateway', e.message);
    else res.destroy();
  });
  up.on('close', () => {
    if (!uploadId) return;
    openByUpload.set(uploadId, openByUpload.get(uploadId) - 1);
    removeIfIdle(bucket, uploadId);
  });
  // The client went away mid-request: pass that on instead of leaving s3rver waiting.
  res.on('close', () => {
    if (!res.writableFinished) up.destroy();
  });
  if (body !== null) up.end(body);
  else req.pipe(up);
}

const server = http.createServer((req, res) => {
  if (process.env.TEST_S3_DEBUG) {
    const t0 = Date.now();
    res.on('close', () => console.error(`start-s3rver: ${new Date().toISOString()} ${req.method} ${req.url.slice(0, 120)} -> ` +
      `${res.statusCode} in ${Date.now() - t0} ms`));
  }
  const qi = req.url.indexOf('?');
  const rawPath = qi < 0 ? req.url : req.url.slice(0, qi);
  const rawQuery = qi < 0 ? '' : req.url.slice(qi + 1);
  if (rawPath === '/__nova/stats') {
    const body = JSON.stringify(stats);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    return res.end(body);
  }
  let query;
  try {
    query = parseQuery(rawQuery);
  } catch {
    return sendError(res, 400, 'InvalidArgument', 'bad query encoding');
  }
  const bad = verify(req, rawPath, query);
  if (bad) {
    req.resume();
    return sendError(res, ...bad);
  }
  stats.signed_ok++;
  const segs = rawPath.split('/');
  const bucket = decodeURIComponent(segs[1] || '');
  const key = decodeURIComponent(segs.slice(2).join('/'));
  const q = new Map(query);
  if (req.method === 'GET' && !key && q.has('uploads')) return listUploads(res, bucket);
  if (req.method === 'DELETE' && key && q.has('uploadId'))
    return abortUpload(res, bucket, q.get('uploadId'));
  if (q.has('uploadId') && aborted.has(q.get('uploadId'))) {
    req.resume();
    return sendError(res, 404, 'NoSuchUpload', 'The specified upload does not exist.');
  }
  if (req.method === 'PUT' && q.has('partNumber')) {
    const part = q.get('partNumber');
    const flakyId = `${q.get('uploadId')}/${part}`;
    if ((key.includes('inject-500') && part === '2') ||
        (key.includes('flaky-500') && part === '1' && !flakyDone.has(flakyId))) {
      flakyDone.add(flakyId);
      stats.injected++;
      req.resume();
      return req.on('end', () => sendError(res, 500, 'InternalError', 'injected failure'));
    }
  }
  const ph = req.headers['x-amz-content-sha256'];
  if (ph && /^[0-9a-f]{64}$/.test(ph)) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      stats.payload_checked++;
      if (sha256hex(body) !== ph) {
        stats.payload_mismatch++;
        return sendError(res, 400, 'XAmzContentSHA256Mismatch',
          "The provided 'x-amz-content-sha256' header does not match what was computed.");
      }
      forward(req, res, body, bucket, q.get('uploadId'));
    });
    return undefined;
  }
  forward(req, res, null, bucket, q.get('uploadId'));
  return undefined;
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`PORT ${server.address().port}\n`);
});

// s3rver has unhandled stream errors in some races (a request cut off mid-body); keep serving
// the other tests and say so on stderr.
process.on('uncaughtException', (e) => {
  stats.server_errors++;
  console.error(`start-s3rver: ${e.stack || e}`);
});

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  server.close();
  backend.close(() => {});
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
