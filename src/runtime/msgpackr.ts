// msgpackr without its optional native string extractor (msgpackr-extract).
// Loading it costs every thread about 20 ms of CPU (node-gyp-build's search for
// the prebuilt binary, then the addon itself), and it speeds up unpacking of
// many long strings only: frame headers and skeletons hold a few short ones
// (the data travels in raw segments, wire.ts). msgpackr's own pure-JS reader
// gives the same values.
import Module = require('node:module');
import type * as Msgpackr from 'msgpackr';

function loadWithoutNativeExtractor(): typeof Msgpackr {
  const loader = Module as unknown as { _load(request: string, parent: unknown, isMain: boolean): unknown };
  const load = loader._load;
  loader._load = function (request, parent, isMain) {
    // msgpackr treats a failed require of its native module as "not installed".
    if (request === 'msgpackr-extract') throw new Error('msgpackr-extract is not used by push-ens');
    return load.call(this, request, parent, isMain);
  };
  try {
    return require('msgpackr') as typeof Msgpackr;
  } finally {
    loader._load = load;
  }
}

const msgpackr = loadWithoutNativeExtractor();
export const Packr = msgpackr.Packr;
export const addExtension = msgpackr.addExtension;
