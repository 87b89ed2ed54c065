// Tests are compiled by tsc (npm's pretest) and run from dist/, because device
// workers are real threads and processes that load compiled JavaScript.
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/dist/test'],
  testMatch: ['**/*.test.js'],
  testTimeout: 60000,
  // Two cores: test files that start device workers run one at a time.
  maxWorkers: 1,
};
