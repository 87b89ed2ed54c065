// The CLI's bad-input corpus: each case is a command line that must fail with
// one line on stderr naming the bad value and what was expected, a non-zero
// exit (2 for usage and input errors) and no change on disk.
//
// Placeholders in args: {F} the fixtures directory (test/fixtures/cli), {W} a
// work directory holding checkpoints made for these tests (see
// bad-input.test.ts), {C} the case's own empty working directory.
// `creates` names a path (relative to {C}) the command would have written:
// it must not exist afterwards.

export interface BadInputCase {
  name: string;
  args: string[];
  /** Matched against the one stderr line (after "push-ens: error: " or "push-ens: "). */
  message: RegExp;
  /** Default 2. */
  code?: number;
  creates?: string;
  /** Skip when this returns a reason. */
  skip?: () => string | undefined;
}

function resolves(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

const T = ['train', '--epochs', '1', '--particles', '2'];

export const BAD_INPUT_CASES: BadInputCase[] = [
  // ------------------------------------------------------------- usage
  { name: 'unknown command', args: ['trian'], message: /unknown command 'trian'.*Did you mean train/ },
  { name: 'unknown option', args: ['train', '--epoch', '3'], message: /unknown option '--epoch'.*--epochs/ },
  { name: 'option without its value', args: ['train', '--epochs'], message: /option '-e, --epochs <n>' argument missing/ },
  { name: 'extra argument', args: ['train', 'now'], message: /too many arguments for 'train'/ },
  { name: 'predict without --checkpoint', args: ['predict', '--data', 'toy'], message: /required option '-c, --checkpoint <dir>' not specified/ },
  { name: 'plot without --out', args: ['plot', '-c', '{W}/ckpt'], message: /required option '-o, --out <file>' not specified/ },

  // ------------------------------------------------------------- devices and runtime
  { name: 'malformed device', args: [...T, '--devices', 'cpu:x'], message: /--devices "cpu:x": device "cpu:x": expected "cpu:N" or "cuda:N"/ },
  { name: 'unknown device kind', args: [...T, '--devices', 'gpu:0'], message: /device "gpu:0": expected "cpu:N" or "cuda:N"/ },
  { name: 'duplicate device', args: [...T, '--devices', 'cpu:0,cpu:0'], message: /duplicate device "cpu:0"/ },
  { name: 'empty device list', args: [...T, '--devices', ''], message: /empty device list/ },
  { name: 'trailing comma in device list', args: [...T, '--devices', 'cpu:0,'], message: /device "": expected "cpu:N"/ },
  {
    name: 'cuda without tfjs-node-gpu',
    args: [...T, '--devices', 'cuda:0,cuda:1'],
    message:
      /device cuda:0 needs @tensorflow\/tfjs-node-gpu, which is not installed, and (no NVIDIA GPU is visible here|\d+ NVIDIA GPU\(s\) are visible here).*: to run now on the CPU use --devices cpu:0,cpu:1; for CUDA install `npm install @tensorflow\/tfjs-node-gpu@4\.22\.0` \(needs CUDA 11\.2 and cuDNN 8\.1/,
    skip: () => (resolves('@tensorflow/tfjs-node-gpu') ? 'tfjs-node-gpu is installed here' : undefined),
  },
  {
    name: 'tensorflow backend without tfjs-node',
    args: [...T, '--backend', 'tensorflow'],
    message: /backend "tensorflow" on cpu:0 needs @tensorflow\/tfjs-node/,
    skip: () => (resolves('@tensorflow/tfjs-node') || resolves('@tensorflow/tfjs-node-gpu') ? 'tfjs-node is installed here' : undefined),
  },
  { name: 'unknown option of devices', args: ['devices', '--gpu'], message: /unknown option '--gpu' \(see push-ens devices --help\)/ },
  { name: 'unknown backend', args: [...T, '--backend', 'webgl'], message: /--backend "webgl": expected one of wasm, cpu, tensorflow/ },
  { name: 'unknown isolation', args: [...T, '--isolation', 'fork'], message: /--isolation "fork": expected one of thread, process/ },
  { name: 'zero cache size', args: [...T, '--cache-size', '0'], message: /--cache-size "0": expected a whole number >= 1/ },

  // ------------------------------------------------------------- algorithm and options
  { name: 'unknown algorithm', args: [...T, '--algo', 'hmc'], message: /--algo "hmc": expected one of ensemble, mswag, svgd, mcdropout/ },
  { name: 'unknown loss', args: [...T, '--loss', 'hinge'], message: /--loss "hinge": expected one of mse, gaussian-nll, cross-entropy/ },
  { name: 'loss that does not fit the task', args: [...T, '--data', 'toy', '--loss', 'cross-entropy'], message: /--loss cross-entropy does not fit data "toy", which is regression: expected mse or gaussian-nll/ },
  { name: 'unknown optimizer', args: [...T, '--optimizer', 'rmsprop'], message: /--optimizer "rmsprop": expected one of adam, adamw, sgd/ },
  { name: 'zero particles', args: ['train', '--particles', '0'], message: /--particles "0": expected a whole number in \[1, 100000\]/ },
  { name: 'negative particles', args: ['train', '--particles', '-3'], message: /--particles "-3": expected a whole number/ },
  { name: 'fractional epochs', args: ['train', '--epochs', '2.5'], message: /--epochs "2.5": expected a whole number/ },
  { name: 'non-numeric epochs', args: ['train', '--epochs', 'ten'], message: /--epochs "ten": expected a whole number/ },
  { name: 'zero epochs', args: ['train', '--epochs', '0'], message: /--epochs "0": expected a whole number in \[1, / },
  { name: 'zero batch size', args: [...T, '--batch-size', '0'], message: /--batch-size "0": expected a whole number >= 1/ },
  { name: 'batch larger than the data', args: [...T, '--batch-size', '5000'], message: /--batch-size 5000: expected at most 1024, the number of training examples in "seed-random"/ },
  { name: 'zero learning rate', args: [...T, '--lr', '0'], message: /--lr "0": expected a number > 0/ },
  { name: 'NaN learning rate', args: [...T, '--lr', 'NaN'], message: /--lr "NaN": expected a number > 0/ },
  { name: 'negative seed', args: [...T, '--seed', '-1'], message: /--seed "-1": expected a whole number in \[0, 4294967295\]/ },
  { name: 'seed too large', args: [...T, '--seed', '4294967296'], message: /--seed "4294967296": expected a whole number in \[0, 4294967295\]/ },
  { name: 'test fraction 1', args: [...T, '--test-fraction', '1'], message: /--test-fraction "1": expected a number in \[0, 1\)/ },
  { name: 'option of another algorithm', args: [...T, '--algo', 'ensemble', '--rank', '5'], message: /--rank applies to --algo mswag, not ensemble/ },
  { name: 'svgd with one particle', args: ['train', '--algo', 'svgd', '--particles', '1'], message: /--particles 1: svgd needs at least 2 particles/ },
  { name: 'more swag epochs than epochs', args: ['train', '--algo', 'mswag', '--epochs', '4', '--swag-epochs', '5'], message: /--swag-epochs 5: expected at most --epochs \(4\)/ },
  {
    name: 'pretrain and swag epochs that do not add up',
    args: ['train', '--algo', 'mswag', '--epochs', '4', '--swag-epochs', '2', '--pretrain-epochs', '1'],
    message: /--pretrain-epochs 1 \+ --swag-epochs 2 = 3: expected them to add up to --epochs \(4\)/,
  },
  { name: 'negative bandwidth', args: ['train', '--algo', 'svgd', '--bandwidth', '-1'], message: /--bandwidth "-1": expected "median" or a number > 0/ },
  { name: 'dropout rate 1', args: ['train', '--algo', 'mcdropout', '--dropout', '1'], message: /--dropout "1": expected a rate in \(0, 1\)/ },
  { name: 'momentum with adam', args: [...T, '--momentum', '0.9'], message: /--momentum applies to --optimizer sgd, not adam/ },
  { name: 'unknown scheduler', args: [...T, '--scheduler', 'warmup'], message: /unknown scheduler "warmup": expected one of step, cosine, linear, exponential/ },
  { name: 'scheduler missing a field', args: [...T, '--scheduler', 'cosine'], message: /scheduler cosine tMax undefined: expected a positive integer/ },
  { name: 'malformed scheduler', args: [...T, '--scheduler', 'step:5'], message: /--scheduler "step:5": expected TYPE\[:KEY=VALUE,...\]/ },
  { name: '--checkpoint-every without --out', args: [...T, '--checkpoint-every', '2'], message: /--checkpoint-every needs --out DIR/ },
  { name: 'unknown --on-nan policy', args: [...T, '--on-nan', 'ignore'], message: /--on-nan "ignore": expected one of stop, skip, reinit/ },
  { name: 'svgd with --on-nan skip', args: ['train', '--algo', 'svgd', '--on-nan', 'skip'], message: /--on-nan skip: svgd supports only stop/ },
  { name: 'zero timeout', args: [...T, '--timeout', '0'], message: /--timeout "0": expected a whole number >= 1/ },
  { name: 'timeout in seconds', args: [...T, '--timeout', '1.5s'], message: /--timeout "1\.5s": expected a whole number >= 1/ },
  { name: 'negative --restart-workers', args: [...T, '--restart-workers', '-1'], message: /--restart-workers "-1": expected a whole number in \[0, 1000\]/ },

  // ------------------------------------------------------------- data
  { name: 'unknown data spec', args: [...T, '--data', 'cifar10'], message: /unknown data spec "cifar10": expected one of seed-random\[:D\], toy/ },
  { name: 'two-moons of one point', args: [...T, '--data', 'two-moons:1'], message: /data spec "two-moons:1": N is "1", expected an integer in \[2, / },
  { name: 'mnist larger than the package', args: [...T, '--data', 'mnist:9000,2000'], message: /TRAIN\+TEST is 11000, expected at most 10000/ },
  { name: 'task for a generated data set', args: [...T, '--data', 'toy', '--task', 'classification'], message: /--task applies to csv: data only; "toy" is always regression/ },
  { name: 'missing CSV file', args: [...T, '--data', 'csv:{C}/missing.csv'], message: /missing\.csv: no such file, expected an existing CSV file/ },
  { name: 'empty CSV', args: [...T, '--data', 'csv:{F}/empty.csv'], message: /empty\.csv is empty: expected a header row and at least one data row/ },
  { name: 'CSV with only a header', args: [...T, '--data', 'csv:{F}/header-only.csv'], message: /header-only\.csv has a header \(row 1\) but no data rows/ },
  { name: 'ragged CSV', args: [...T, '--data', 'csv:{F}/ragged.csv'], message: /ragged\.csv row 3: has 2 fields but the header has 3 \(column 3 is missing\)/ },
  { name: 'non-numeric CSV cell', args: [...T, '--data', 'csv:{F}/non-numeric.csv'], message: /non-numeric\.csv row 3, column 2: expected a number, got a cell that is not a finite decimal number/ },
  { name: 'NaN in CSV inputs', args: [...T, '--data', 'csv:{F}/nan-cell.csv'], message: /nan-cell\.csv row 3, column 1: expected a number, got a cell that is not a finite decimal number/ },
  {
    name: 'semicolon-separated CSV',
    args: [...T, '--data', 'csv:{F}/semicolons.csv'],
    message: /semicolons\.csv: has only the target column \(column 1\), expected at least one input column besides it; its header row contains semicolons: push-ens reads comma-separated files/,
  },
  { name: 'unknown target column', args: [...T, '--data', 'csv:{F}/curve.csv:price'], message: /curve\.csv: no column named "price" for the target among its 2 header columns/ },
  { name: 'label that is not a class index', args: [...T, '--data', 'csv:{F}/bad-labels.csv', '--task', 'classification'], message: /bad-labels\.csv row 4, column 2: the label is not an integer class index/ },
  { name: 'negative class label', args: [...T, '--data', 'csv:{F}/negative-label.csv', '--task', 'classification'], message: /negative-label\.csv row 3, column 2: the label is not an integer class index/ },
  { name: 'labels mixing numbers and text', args: [...T, '--data', 'csv:{F}/mixed-labels.csv', '--task', 'classification'], message: /mixed-labels\.csv row 2, column 2: the label is text but other labels are numbers/ },

  // ------------------------------------------------------------- models
  { name: 'unknown model spec', args: [...T, '--model', 'resnet50'], message: /unknown model spec "resnet50": expected biggerNN:L,D, mlp:H1,H2,..., lenet/ },
  { name: 'biggerNN with one number', args: [...T, '--model', 'biggerNN:10'], message: /model spec "biggerNN:10": biggerNN takes two numbers L,D/ },
  { name: 'mlp with a zero width', args: [...T, '--model', 'mlp:0'], message: /model spec "mlp:0": hidden width is "0", expected a whole number in \[1, 100000\]/ },
  { name: 'lenet on 1-D data', args: [...T, '--data', 'toy', '--model', 'lenet'], message: /model spec "lenet" takes 28x28x1 images, but the data's inputs have shape \[1\]/ },
  { name: 'CSV file that is a device', args: [...T, '--data', 'csv:/dev/zero'], message: /CSV file \/dev\/zero is a device: expected a regular file/ },
  { name: 'model file that is a device', args: [...T, '--model', '/dev/zero'], message: /model file "\/dev\/zero" is a device: expected a regular file/ },
  { name: 'missing model file', args: [...T, '--model', '{C}/nope.json'], message: /model file ".*nope\.json": no such file/ },
  { name: 'model file that is not JSON', args: [...T, '--model', '{F}/not-json.json'], message: /model file ".*not-json\.json" is not valid JSON/ },
  { name: 'model file with a bad layer', args: [...T, '--model', '{F}/bad-layer.json'], message: /model file ".*bad-layer\.json": layer 0 \(dense\) units 0: expected a positive integer/ },
  { name: 'model of another input size', args: [...T, '--data', 'toy', '--model', '{F}/five-inputs.json'], message: /takes inputs of shape \[5\], but the data's inputs have shape \[1\]/ },

  // ------------------------------------------------------------- outputs
  { name: '--out below a file', args: [...T, '--out', '{F}/curve.csv/run'], message: /--out ".*curve\.csv\/run": a parent of it is a file|is not a directory/ },
  { name: '--out in a missing directory', args: [...T, '--out', '{C}/no/such/run'], message: /--out ".*no\/such\/run": the directory ".*no\/such" does not exist/ },
  { name: '--out on a read-only file system', args: [...T, '--out', '/proc/push-ens-run'], message: /--out "\/proc\/push-ens-run": the directory "\/proc" is not writable/ },
  { name: '--out that is a foreign directory', args: [...T, '--out', '{W}/foreign'], message: /--out ".*foreign" exists and is not a push-ens checkpoint/ },
  { name: '--out over a checkpoint without --force', args: [...T, '--out', '{W}/ckpt'], message: /--out ".*ckpt" already holds a checkpoint: pass --force to replace it, or --resume it/ },
  { name: '--out that is a file', args: [...T, '--out', '{F}/curve.csv'], message: /--out ".*curve\.csv" is a file, expected a directory path/ },
  { name: '--force without --out', args: [...T, '--force'], message: /--force applies to --out DIR/ },
  { name: 'predict --out with an unknown extension', args: ['predict', '-c', '{W}/ckpt', '--out', 'pred.txt'], message: /--out "pred\.txt": expected a file name ending in \.csv or \.json/, creates: 'pred.txt' },
  { name: 'plot --out as PDF', args: ['plot', '-c', '{W}/ckpt', '--out', 'plot.pdf'], message: /--out "plot\.pdf": expected a file name ending in \.svg or \.png/, creates: 'plot.pdf' },
  { name: 'predict --out over an existing file', args: ['predict', '-c', '{W}/ckpt', '--out', '{F}/curve.csv'], message: /--out ".*curve\.csv" already exists: pass --force to replace it/ },

  // ------------------------------------------------------------- checkpoints
  { name: 'missing checkpoint', args: ['eval', '-c', '{C}/nothing'], message: /--checkpoint: checkpoint .*nothing does not exist/ },
  { name: 'checkpoint without a manifest', args: ['eval', '-c', '{W}/no-manifest'], message: /no-manifest is not a push-ens checkpoint: it has no manifest\.json/ },
  { name: 'foreign manifest', args: ['eval', '-c', '{W}/foreign'], message: /foreign is not a push-ens checkpoint: manifest\.json has format "someone-else\/model"/ },
  { name: 'manifest that is not JSON', args: ['predict', '-c', '{W}/garbled'], message: /garbled: manifest\.json is not valid JSON .*: the checkpoint is corrupt/ },
  { name: 'wrong format version', args: ['eval', '-c', '{W}/future'], message: /future has format version 99 .*reads versions 1 and 2$/ },
  { name: 'truncated weights', args: ['eval', '-c', '{W}/truncated'], message: /truncated: file g\d{6}-particle-000\.params\.f32 has \d+ bytes, expected \d+: the checkpoint is truncated or corrupt/ },
  { name: 'flipped byte in the weights', args: ['predict', '-c', '{W}/flipped'], message: /flipped: file g\d{6}-particle-001\.params\.f32 does not match its sha256/ },
  { name: 'edited manifest', args: ['eval', '-c', '{W}/edited'], message: /edited: its model has \d+ parameters but manifest\.json says \d+: the checkpoint is corrupt/ },
  { name: 'checkpoint of another architecture', args: ['eval', '-c', '{W}/other-arch'], message: /other-arch.*(holds \d+ bytes, expected \d+|params)/ },
  { name: 'malformed CLI metadata', args: ['eval', '-c', '{W}/bad-meta'], message: /bad-meta: manifest\.json field meta\.cli is malformed/ },
  { name: 'resume from a missing checkpoint', args: ['train', '--resume', '{C}/none'], message: /--resume: checkpoint .*none does not exist/ },
  { name: 'resume with another model', args: ['train', '--resume', '{W}/ckpt', '--model', 'mlp:16'], message: /--model cannot change a resumed run/ },
  { name: 'resume to fewer epochs than done', args: ['train', '--resume', '{W}/ckpt', '--epochs', '1'], message: /--epochs 1: .*ckpt" has already trained 2 epochs, expected at least that many/ },

  // ------------------------------------------------------------- predict / eval / plot
  { name: 'unknown prediction mode', args: ['predict', '-c', '{W}/ckpt', '--modes', 'mean,mode'], message: /--modes: unknown mode "mode": expected one of mean, median, min, max, std, pred/ },
  { name: 'old name of a prediction mode', args: ['predict', '-c', '{W}/ckpt', '--modes', 'mean,aleatoric'], message: /--modes: mode "aleatoric" is now "aleatoric_var" \(it is a variance, not a std\)/ },
  { name: 'repeated prediction mode', args: ['predict', '-c', '{W}/ckpt', '--modes', 'mean,mean'], message: /--modes: "mean" is listed twice/ },
  { name: 'unknown split', args: ['eval', '-c', '{W}/ckpt', '--split', 'validation'], message: /--split "validation": expected one of test, train, all/ },
  { name: 'data of another input size', args: ['predict', '-c', '{W}/ckpt', '--data', 'seed-random:3'], message: /--data "seed-random:3" has inputs of shape \[3\], but the checkpoint's model takes inputs of shape \[1\]/ },
  { name: 'classification data for a regression checkpoint', args: ['eval', '-c', '{W}/ckpt', '--data', 'two-moons'], message: /--data "two-moons" is classification but the checkpoint was trained for regression/ },
  { name: 'prediction CSV without the input column', args: ['predict', '-c', '{W}/ckpt-csv', '--data', 'csv:{F}/colors.csv'], message: /colors\.csv: no column named "dose" for the model's inputs among its 3 header columns/ },
  {
    name: 'eval CSV without the target column',
    args: ['eval', '-c', '{W}/ckpt-csv', '--data', 'csv:{F}/curve-inputs.csv'],
    message: /--data ".*curve-inputs\.csv" has no target column "response": expected the checkpoint's input columns "dose" and target column "response"/,
  },
  {
    name: 'eval CSV with an extra column',
    args: ['eval', '-c', '{W}/ckpt-csv', '--data', 'csv:{F}/curve-extra-column.csv'],
    message: /--data ".*curve-extra-column\.csv" has 1 extra input column \(column 2\): expected only the checkpoint's input columns "dose" and target column "response"/,
  },
  {
    name: 'eval CSV without an input column',
    args: ['eval', '-c', '{W}/ckpt-csv', '--data', 'csv:{F}/no-dose.csv'],
    message: /--data ".*no-dose\.csv" has no input column "dose": expected the checkpoint's input columns "dose" and target column "response"/,
  },
  { name: 'eval of a checkpoint trained on a file, without --data', args: ['eval', '-c', '{W}/ckpt-csv'], message: /checkpoint ".*ckpt-csv" was trained on data from a file: pass --data "csv:.*curve\.csv" to use it \(push-ens does not open files named inside a checkpoint\)/ },
  { name: 'resume of a run trained on a file, without --data', args: ['train', '--resume', '{W}/ckpt-csv', '--epochs', '2'], message: /checkpoint ".*ckpt-csv" was trained on data from a file: pass --data "csv:.*curve\.csv" to use it/ },
  { name: 'plot of data with many inputs', args: ['plot', '-c', '{W}/ckpt', '--data', 'seed-random:3', '--out', 'p.svg'], message: /plot draws 1-D regression \(one input, one target\), but "seed-random:3" has 3 inputs/, creates: 'p.svg' },
  { name: 'bins for a regression plot', args: ['plot', '-c', '{W}/ckpt', '--out', 'p.svg', '--bins', '10'], message: /--bins applies to classification plots/, creates: 'p.svg' },
];
