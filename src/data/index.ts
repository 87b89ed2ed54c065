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
export { type IdxArray, type IdxType, parseIdx, readIdxFile, loadIdxDataset } from './idx';
export { loadFashionMnist, fashionMnistDir, FASHION_MNIST_CLASSES, FASHION_MNIST_ENV } from './fashion-mnist';
export { type Shift, applyShifts, rotateImages, addNoise } from './shift';
export { type CsvDatasetOptions, type CsvInputs, loadCsvDataset, loadCsvInputs } from './csv';
export {
  type DataSpec,
  type LoadDatasetOptions,
  type ImageDataSpec,
  parseDataSpec,
  isImageSpec,
  dataSpecFiles,
  loadDataset,
  describeDataSpecs,
  DEFAULT_TEST_FRACTION,
} from './specs';
