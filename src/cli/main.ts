#!/usr/bin/env node
// push-ens command line: wires the commands into commander and maps every
// failure to one line on stderr and an exit code:
//   0 success, 1 runtime failure, 2 bad usage or input, 130 SIGINT, 143 SIGTERM.
import '../util/compile-cache-install'; // first: the modules below load through the code cache
import './early-start-install'; // second: a train run's device threads boot while the rest loads
import { Command, CommanderError, Help, Option } from 'commander';
import { PushInputError } from '../util/errors';
import { OutputMode, removePendingTemps } from './output';
import { InterruptedError, SIGNAL_EXIT_CODES, installBaseSignalHandlers, reportInterruptOnce } from './signals';
import type * as Devices from './commands/devices';
import type * as Train from './commands/train';
import type * as Predict from './commands/predict';
import type * as Eval from './commands/eval';
import type * as Plot from './commands/plot';
import type * as Calibrate from './commands/calibrate';
import type * as Export from './commands/export';
import type * as Worker from './commands/worker';
import { packageVersion } from './version';
import { releaseEarlyThreads } from './early-start';

export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

interface CommonFlags {
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
}

function outputMode(flags: CommonFlags): OutputMode {
  return { json: !!flags.json, quiet: !!flags.quiet, verbose: !!flags.verbose };
}

type Register = (program: Command, modeOf: (flags: CommonFlags) => OutputMode) => void;

/** The commands in help order; each one's module loads only when it is registered. */
const COMMANDS: readonly (readonly [string, () => Register])[] = [
  ['train', () => (require('./commands/train') as typeof Train).registerTrain],
  ['predict', () => (require('./commands/predict') as typeof Predict).registerPredict],
  ['eval', () => (require('./commands/eval') as typeof Eval).registerEval],
  ['plot', () => (require('./commands/plot') as typeof Plot).registerPlot],
  ['calibrate', () => (require('./commands/calibrate') as typeof Calibrate).registerCalibrate],
  ['export', () => (require('./commands/export') as typeof Export).registerExport],
  ['devices', () => (require('./commands/devices') as typeof Devices).registerDevices as Register],
  ['worker', () => (require('./commands/worker') as typeof Worker).registerWorker],
];

/**
 * The program with every command, or with only `command` when that names one:
 * a run loads the modules of its own command, not those of the other seven.
 */
export function buildProgram(command?: string): Command {
  const program = new Command();
  program
    .name('push-ens')
    .usage('<command> [options]')
    .description(
      'Bayesian deep learning with particles on TensorFlow.js: train deep ensembles, MultiSWAG, ' +
        'SVGD, MC dropout and SG-MCMC chains (SGLD, cyclical SGLD, SGHMC) across CPU (and CUDA) device ' +
        'workers, then predict, evaluate and plot with the Bayesian model average.',
    )
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .helpCommand('help [command]', 'show help for a command')
    .showSuggestionAfterError(true)
    // Options declared with requiredOption (--checkpoint, plot's --out) say so in --help; subcommands inherit this.
    .configureHelp({
      optionDescription(option: Option): string {
        const base = Help.prototype.optionDescription.call(this, option);
        return option.mandatory ? `${base} (required)` : base;
      },
    })
    .exitOverride()
    .configureOutput({
      // Commander's own usage errors: one line, with our prefix.
      outputError: (str, write) => write(`push-ens: ${str.replace(/\s*\n\s*/g, ' ').trim()}\n`),
    })
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  push-ens train --particles 8 --devices cpu:0,cpu:1 --out run1',
        '  push-ens train --algo svgd --data toy --model mlp:50,50 --epochs 200 --out toy-svgd',
        '  push-ens eval --checkpoint run1',
        '  push-ens predict --checkpoint toy-svgd --data toy --modes mean,std --out pred.csv',
        '  push-ens plot --checkpoint toy-svgd --out toy.svg',
        '  push-ens export --checkpoint toy-svgd --out web --serve',
        '  push-ens devices',
        '  push-ens worker --nats nats://127.0.0.1:4222 --name hostA --devices cpu:0,cpu:1',
        '',
        'Exit codes: 0 ok, 1 runtime failure, 2 bad usage or input, 130 interrupted (SIGINT), 143 terminated (SIGTERM).',
      ].join('\n'),
    );

  const only = COMMANDS.some(([name]) => name === command) ? command : undefined;
  for (const [name, register] of COMMANDS) if (only === undefined || name === only) register()(program, outputMode);

  // Subcommands inherit the error handling and output settings.
  for (const cmd of program.commands) {
    cmd
      .exitOverride()
      .showSuggestionAfterError(true)
      .allowExcessArguments(false)
      .configureOutput({ outputError: (str, write) => write(`push-ens: ${str.replace(/\s*\n\s*/g, ' ').trim()} (see push-ens ${cmd.name()} --help)\n`) });
  }
  return program;
}

/** The first line of an error message (messages are meant to be one line; this enforces it). */
function oneLine(message: string): string {
  const line = message.split('\n')[0].trim();
  return line === '' ? 'unknown error' : line;
}

function verboseRequested(argv: readonly string[]): boolean {
  return argv.includes('--verbose') || argv.includes('-v');
}

/** Runs the CLI; resolves to the exit code. */
export async function run(argv: readonly string[] = process.argv): Promise<number> {
  const program = buildProgram(argv[2]);
  const verbose = verboseRequested(argv.slice(2));
  try {
    if (argv.length <= 2) {
      program.outputHelp({ error: true });
      return EXIT.usage;
    }
    await program.parseAsync([...argv]);
    return EXIT.ok;
  } catch (err) {
    return reportError(err, verbose);
  } finally {
    releaseEarlyThreads();
  }
}

export function reportError(err: unknown, verbose: boolean): number {
  if (err instanceof CommanderError) {
    // Help and version were printed by commander; usage errors too (outputError above).
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
    return EXIT.usage;
  }
  if (err instanceof InterruptedError) {
    reportInterruptOnce(`push-ens: ${err.message}`);
    return SIGNAL_EXIT_CODES[err.signal];
  }
  const e = err instanceof Error ? err : new Error(String(err));
  process.stderr.write(`push-ens: error: ${oneLine(e.message)}\n`);
  if (verbose && e.stack) process.stderr.write(e.stack + '\n');
  return e instanceof PushInputError ? EXIT.usage : EXIT.failure;
}

if (require.main === module) {
  // A closed pipe (`push-ens ... | head`) is not an error.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
  installBaseSignalHandlers(removePendingTemps);
  run().then(
    (code) => {
      process.exitCode = code;
      // Device workers and timers must not keep a finished command alive.
      setTimeout(() => process.exit(code), 200).unref();
    },
    (err) => {
      process.stderr.write(`push-ens: error: ${String(err)}\n`);
      process.exit(EXIT.failure);
    },
  );
}
