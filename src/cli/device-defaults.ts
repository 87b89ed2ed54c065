// The device flags' defaults, in a module of their own: the CLI's early thread
// start (early-start.ts) reads them before the rest of the CLI loads.
export const DEVICE_DEFAULTS = {
  devices: 'cpu:0',
  backend: 'wasm',
  isolation: 'thread',
} as const;
