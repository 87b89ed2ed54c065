// The browser bundle's stand-in for src/nn/layers-model.ts (mapped by
// scripts/build-browser.mjs): tfjs-layers models are not exported to the
// browser, and the export command refuses them before anything is written.
export function compileLayersModel(): never {
  throw new Error('tfjs-layers models do not run in the push-ens browser bundle: export a push-ens/sequential model');
}
