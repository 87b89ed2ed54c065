// How to reach the NATS servers: URLs, credentials and TLS, checked before any
// connection is tried. A server that is not on loopback needs credentials, so a
// worker host or a coordinator never talks to an open server across a network.
import * as fs from 'node:fs';
import type { ConnectionOptions, NatsConnection } from 'nats';
import { PushInputError, PushWorkerError, describeValue } from '../../util/errors';

export interface NatsTlsOptions {
  /** CA certificate (PEM) that signed the servers' certificates. */
  caFile?: string;
  /** Client certificate and key (PEM), for servers that verify clients. */
  certFile?: string;
  keyFile?: string;
}

export interface NatsOptions {
  /** Server URLs ("nats://10.0.0.1:4222", "tls://...") or host:port; several for a cluster. */
  servers: string | readonly string[];
  user?: string;
  pass?: string;
  token?: string;
  /** A .creds file (user JWT and nkey seed), for servers with decentralised auth. */
  credsFile?: string;
  /** TLS to the servers: true for the system CAs, or files. */
  tls?: boolean | NatsTlsOptions;
  /** How often each side of a session says it is alive (ms). Default 1000. */
  heartbeatMs?: number;
  /** A session whose peer was silent this long (ms) is dead. Default 10000. */
  deadlineMs?: number;
}

export interface ResolvedNats {
  servers: string[];
  heartbeatMs: number;
  deadlineMs: number;
  connect: ConnectionOptions;
}

export const DEFAULT_HEARTBEAT_MS = 1000;
export const DEFAULT_DEADLINE_MS = 10_000;

/** Validates options; throws one-line PushInputErrors (a non-loopback server without credentials among them). */
export function resolveNatsOptions(opts: NatsOptions | undefined, name: string): ResolvedNats {
  if (!opts || typeof opts !== 'object') throw new PushInputError(`remote devices need NATS options (nats: { servers: "nats://host:4222", ... }, or --nats URL)`);
  const list = typeof opts.servers === 'string' ? opts.servers.split(',') : Array.isArray(opts.servers) ? [...opts.servers] : [];
  const servers = list.map((s) => String(s).trim()).filter((s) => s !== '');
  if (servers.length === 0) throw new PushInputError(`bad nats servers ${describeValue(opts.servers)}: expected one or more URLs such as "nats://127.0.0.1:4222"`);
  const hosts = servers.map(serverHost);
  for (const key of ['user', 'pass', 'token', 'credsFile'] as const) {
    if (opts[key] !== undefined && (typeof opts[key] !== 'string' || opts[key] === '')) throw new PushInputError(`bad nats ${key}: expected a non-empty string`);
  }
  if ((opts.user === undefined) !== (opts.pass === undefined)) throw new PushInputError('nats user and pass go together: give both or neither');
  const credentials = opts.user !== undefined || opts.token !== undefined || opts.credsFile !== undefined;
  const remote = servers.find((_, i) => !isLoopback(hosts[i]));
  if (remote !== undefined && !credentials) {
    throw new PushInputError(
      `nats server ${remote} is not on loopback: give credentials (user and pass, a token, or a creds file; --nats-user/--nats-pass, --nats-token or --nats-creds) and TLS options`,
    );
  }
  const heartbeatMs = checkMs(opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS, 'heartbeatMs', 50, 60_000);
  const deadlineMs = checkMs(opts.deadlineMs ?? DEFAULT_DEADLINE_MS, 'deadlineMs', 200, 600_000);
  if (deadlineMs < 2 * heartbeatMs) throw new PushInputError(`nats deadlineMs ${deadlineMs} must be at least twice heartbeatMs ${heartbeatMs}`);
  const connect: ConnectionOptions = {
    servers,
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    reconnectJitter: 50,
    timeout: 5000,
    pingInterval: 5000,
  };
  if (opts.user !== undefined) Object.assign(connect, { user: opts.user, pass: opts.pass });
  if (opts.token !== undefined) connect.token = opts.token;
  if (opts.credsFile !== undefined) {
    const file = opts.credsFile;
    const bytes = readSmallFile(file, 'nats creds file');
    const { credsAuthenticator } = require('nats') as typeof import('nats');
    connect.authenticator = credsAuthenticator(bytes);
  }
  if (opts.tls !== undefined && opts.tls !== false) {
    const tls = opts.tls === true ? {} : opts.tls;
    if (typeof tls !== 'object' || tls === null) throw new PushInputError(`bad nats tls ${describeValue(opts.tls)}: expected true or { caFile, certFile, keyFile }`);
    for (const key of ['caFile', 'certFile', 'keyFile'] as const) {
      if (tls[key] !== undefined) readSmallFile(tls[key]!, `nats TLS ${key}`);
    }
    connect.tls = { caFile: tls.caFile, certFile: tls.certFile, keyFile: tls.keyFile };
  }
  return { servers, heartbeatMs, deadlineMs, connect };
}

/** Connects; failures become one line naming the servers. */
export async function connectNats(resolved: ResolvedNats): Promise<NatsConnection> {
  const { connect } = require('nats') as typeof import('nats');
  try {
    return await connect(resolved.connect);
  } catch (err) {
    const e = err as { code?: string; message?: string };
    const where = resolved.servers.join(',');
    if (e.code === 'AUTHORIZATION_VIOLATION' || /authori[sz]ation/i.test(String(e.message))) {
      throw new PushInputError(`nats server ${where} refused the credentials (authorization violation)`);
    }
    const reason = String(e.message ?? e.code ?? err).split('\n')[0];
    // A certificate the client does not trust is a setting to fix, like bad credentials.
    if (e.code !== undefined && TLS_TRUST_CODES.has(e.code)) {
      throw new PushInputError(`nats server ${where} has a TLS certificate this client does not trust (${reason}): give the CA that signed it (--nats-ca, tls.caFile)`);
    }
    // A server that verifies client certificates drops a client without one after the
    // handshake; the nats client then only sees its connect time out.
    const tls = resolved.connect.tls;
    const hint = e.code === 'TIMEOUT' && tls && typeof tls === 'object' && !tls.certFile ? ' (a server that verifies TLS clients drops one without a certificate: give --nats-cert and --nats-key, tls.certFile and tls.keyFile)' : '';
    throw new PushWorkerError(`could not connect to nats server ${where}: ${reason}${hint}`, 'nats');
  }
}

/** Node's codes for a server certificate that fails verification. */
const TLS_TRUST_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function serverHost(url: string): string {
  const withScheme = /^[a-z]+:\/\//i.test(url) ? url : `nats://${url}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw new PushInputError(`bad nats server ${JSON.stringify(url)}: expected a URL such as "nats://127.0.0.1:4222"`);
  }
  if (!['nats:', 'tls:', 'ws:', 'wss:'].includes(u.protocol)) throw new PushInputError(`bad nats server ${JSON.stringify(url)}: expected a nats:// or tls:// URL`);
  return u.hostname.replace(/^\[|\]$/g, '');
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function checkMs(v: unknown, name: string, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw new PushInputError(`bad nats ${name} ${describeValue(v)}: expected whole milliseconds from ${lo} to ${hi}`);
  return v;
}

function readSmallFile(file: string, what: string): Uint8Array {
  try {
    const st = fs.statSync(file);
    if (!st.isFile() || st.size > 1 << 20) throw new Error('not a regular file under 1 MB');
    return fs.readFileSync(file);
  } catch (err) {
    throw new PushInputError(`${what} ${JSON.stringify(file)} cannot be read: ${(err as Error).message.split('\n')[0]}`);
  }
}
