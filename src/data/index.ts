// Public surface of the data layer.

export * from './dataset';
export { validateDataset } from './validate';
export { splitTrainTest } from './split';
export { bootstrapIndices, batchIndices } from './sampling';
export {
  type NormalizeWhat,
  fitNormalization,
  applyNormalization,
  normalizeInputs,
  denormalizeTargets,
  denormalizeVariance,
} from './normalization';
export { makeSeedRandom, makeToy, makeSine, makeTwoMoons, SEED_RANDOM_SIZE } from './synthetic';
export { loadMnist, MNIST_AVAILABLE, MNIST_NUM_CLASSES } from './mnist';
export { type CsvDatasetOptions, type CsvInputs, loadCsvDataset, loadCsvInputs } from './csv';
export {
  type DataSpec,
  type LoadDatasetOptions,
  parseDataSpec,
  loadDataset,
  describeDataSpecs,
  DEFAULT_TEST_FRACTION,
} from './specs';
