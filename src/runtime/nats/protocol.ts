// What coordinators and worker hosts say to each other on NATS, apart from the
// frames themselves: subjects, the discovery advert and the open request, with
// validators, since every NATS message is untrusted input.
import { HOST_NAME_PATTERN } from '../devices';

/**
 * Version of this protocol (subjects, chunk header, open and advert fields). A
 * coordinator and a worker host with different versions refuse each other.
 */
export const NATS_PROTOCOL = 1;

/** Subject prefix of everything push-ens sends. */
export const SUBJECT_ROOT = 'pushens';
/** Request-reply: every worker host answers with its advert. */
export const DISCOVER_SUBJECT = `${SUBJECT_ROOT}.discover`;

/** Request-reply: a coordinator opens a session on one device of `host`. */
export function openSubject(host: string): string {
  return `${SUBJECT_ROOT}.host.${host}.open`;
}

/** A session's two subjects: coordinator to worker (`c`), worker to coordinator (`w`). */
export function sessionSubjects(host: string, device: string, session: string): { toWorker: string; toCoordinator: string } {
  const base = `${SUBJECT_ROOT}.s.${host}.${device}.${session}`;
  return { toWorker: `${base}.c`, toCoordinator: `${base}.w` };
}

/** Largest JSON control message (advert, open request and reply) accepted. */
export const MAX_CONTROL_BYTES = 64 * 1024;

export interface DeviceAdvert {
  /** Local name on its host, e.g. "cpu:0". */
  device: string;
  kind: 'cpu' | 'cuda';
  backends: string[];
  /** Sessions the device serves at once, and how many of them are free. */
  slots: number;
  free: number;
}

export interface WorkerAdvert {
  host: string;
  protocol: number;
  version: string;
  devices: DeviceAdvert[];
  /** Names of the handler modules coordinators may ask for (besides push-ens's own). */
  handlers: string[];
  /** Whether the host is draining (SIGTERM): it takes no new sessions. */
  draining: boolean;
  /** Coordinators with open sessions. */
  coordinators: number;
}

export interface OpenRequest {
  protocol: number;
  version: string;
  /** Random id of the coordinator (one per PushDist), and a human label for the host's log. */
  coordinator: string;
  label: string;
  session: string;
  device: string;
  heartbeatMs: number;
  deadlineMs: number;
}

export type OpenReply = { ok: true; protocol: number; version: string; host: string; device: string } | { ok: false; protocol: number; error: string };

const SESSION_PATTERN = /^[A-Za-z0-9]{8,64}$/;
const PRINTABLE = /^[\x20-\x7e]*$/;
const LOCAL_DEVICE_PATTERN = /^(cpu|cuda):(0|[1-9][0-9]{0,3})$/;

/** Parses bounded JSON; undefined when it is not an object. */
export function parseControl(data: Uint8Array): Record<string, unknown> | undefined {
  if (data.byteLength > MAX_CONTROL_BYTES) return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function encodeControl(v: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(v), 'utf8');
}

const isInt = (v: unknown, lo: number, hi: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
const isStr = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max;

/** Validates an open request; returns the problem in one line, or the request. */
export function checkOpenRequest(v: Record<string, unknown> | undefined): OpenRequest | string {
  if (!v) return 'the open request is not a JSON object';
  if (!isInt(v.protocol, 0, 1e6)) return 'the open request has no protocol version';
  // Printable ASCII only: the label and version go into the worker host's log.
  if (!isStr(v.version, 64) || !PRINTABLE.test(v.version)) return 'the open request has no version';
  if (!isStr(v.coordinator, 64) || !SESSION_PATTERN.test(v.coordinator)) return 'the open request has a bad coordinator id';
  if (!isStr(v.label, 200) || !PRINTABLE.test(v.label)) return 'the open request has a bad label';
  if (!isStr(v.session, 64) || !SESSION_PATTERN.test(v.session)) return 'the open request has a bad session id';
  if (!isStr(v.device, 16) || !LOCAL_DEVICE_PATTERN.test(v.device)) return `the open request names a bad device ${JSON.stringify(String(v.device).slice(0, 20))}`;
  if (!isInt(v.heartbeatMs, 50, 60_000) || !isInt(v.deadlineMs, 200, 600_000) || v.deadlineMs < 2 * v.heartbeatMs) return 'the open request has bad heartbeat settings';
  return v as unknown as OpenRequest;
}

/** Validates a worker's advert (from discovery); undefined when malformed. */
export function checkAdvert(v: Record<string, unknown> | undefined): WorkerAdvert | undefined {
  if (!v || !isStr(v.host, 63) || !HOST_NAME_PATTERN.test(v.host) || !isInt(v.protocol, 0, 1e6) || !isStr(v.version, 64)) return undefined;
  if (!Array.isArray(v.devices) || v.devices.length > 4096 || !Array.isArray(v.handlers) || v.handlers.length > 1024) return undefined;
  const devices: DeviceAdvert[] = [];
  for (const d of v.devices as unknown[]) {
    const o = d as Record<string, unknown>;
    if (!o || typeof o !== 'object' || !isStr(o.device, 16) || !LOCAL_DEVICE_PATTERN.test(o.device)) return undefined;
    if (!Array.isArray(o.backends) || !o.backends.every((b) => isStr(b, 32)) || !isInt(o.slots, 0, 1e4) || !isInt(o.free, 0, 1e4)) return undefined;
    devices.push({ device: o.device, kind: o.device.startsWith('cuda') ? 'cuda' : 'cpu', backends: o.backends as string[], slots: o.slots, free: o.free });
  }
  if (!v.handlers.every((h) => isStr(h, 200))) return undefined;
  return {
    host: v.host,
    protocol: v.protocol,
    version: v.version,
    devices,
    handlers: v.handlers as string[],
    draining: v.draining === true,
    coordinators: isInt(v.coordinators, 0, 1e6) ? v.coordinators : 0,
  };
}
