// The NATS flags shared by `train`, `predict`, `eval`, `plot`, `devices` and
// `worker`: servers, credentials and TLS. Secrets may come from the environment
// (PUSH_ENS_NATS_PASS, PUSH_ENS_NATS_TOKEN) so they stay out of `ps`.
import type { Command } from 'commander';
import type { NatsOptions } from '../runtime/nats/options';
import { PushInputError } from '../util/errors';
import { parseInteger } from './options';

export interface NatsFlags {
  nats?: string;
  natsUser?: string;
  natsPass?: string;
  natsToken?: string;
  natsCreds?: string;
  natsCa?: string;
  natsCert?: string;
  natsKey?: string;
  natsDeadline?: string;
}

/** Flag keys, for commands that list which flags may change on --resume. */
export const NATS_FLAG_KEYS = ['nats', 'natsUser', 'natsPass', 'natsToken', 'natsCreds', 'natsCa', 'natsCert', 'natsKey', 'natsDeadline'] as const;

export function addNatsFlags(cmd: Command): Command {
  return cmd
    .option('--nats <urls>', 'NATS server URL(s), comma-separated, for devices of worker hosts ("hostA/cpu:0"; see docs/CLUSTER.md)')
    .option('--nats-user <name>', 'NATS user (with --nats-pass or PUSH_ENS_NATS_PASS)')
    .option('--nats-pass <password>', 'NATS password (prefer the PUSH_ENS_NATS_PASS environment variable)')
    .option('--nats-token <token>', 'NATS token (prefer the PUSH_ENS_NATS_TOKEN environment variable)')
    .option('--nats-creds <file>', 'NATS .creds file (user JWT and nkey seed)')
    .option('--nats-ca <file>', 'TLS: CA certificate (PEM) of the NATS servers')
    .option('--nats-cert <file>', 'TLS: client certificate (PEM)')
    .option('--nats-key <file>', 'TLS: client key (PEM)')
    .option('--nats-deadline <ms>', 'a session peer silent this long is taken for dead (default: 10000)');
}

/** NatsOptions from the flags; undefined without --nats. */
export function natsOptionsFromFlags(flags: NatsFlags, env: NodeJS.ProcessEnv = process.env): NatsOptions | undefined {
  const pass = flags.natsPass ?? env.PUSH_ENS_NATS_PASS;
  const token = flags.natsToken ?? env.PUSH_ENS_NATS_TOKEN;
  if (flags.nats === undefined) {
    const stray = (['natsUser', 'natsCreds', 'natsCa', 'natsCert', 'natsKey', 'natsDeadline'] as const).find((k) => flags[k] !== undefined);
    if (stray) throw new PushInputError(`--${stray.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} needs --nats URL`);
    return undefined;
  }
  if (flags.natsPass !== undefined && flags.natsUser === undefined) throw new PushInputError('--nats-pass needs --nats-user');
  const tls = flags.natsCa !== undefined || flags.natsCert !== undefined || flags.natsKey !== undefined || /^tls:/.test(flags.nats);
  const opts: NatsOptions = { servers: flags.nats };
  if (flags.natsUser !== undefined) Object.assign(opts, { user: flags.natsUser, pass: pass ?? '' });
  if (token !== undefined && flags.natsUser === undefined) opts.token = token;
  if (flags.natsCreds !== undefined) opts.credsFile = flags.natsCreds;
  if (tls) opts.tls = { caFile: flags.natsCa, certFile: flags.natsCert, keyFile: flags.natsKey };
  if (flags.natsDeadline !== undefined) {
    opts.deadlineMs = parseInteger('--nats-deadline', flags.natsDeadline, 200, 600_000);
    opts.heartbeatMs = Math.max(50, Math.min(1000, Math.floor(opts.deadlineMs / 5)));
  }
  // Same checks as the API (credentials off loopback), at flag time.
  const { resolveNatsOptions } = require('../runtime/nats/options') as typeof import('../runtime/nats/options');
  resolveNatsOptions(opts, 'check');
  return opts;
}
