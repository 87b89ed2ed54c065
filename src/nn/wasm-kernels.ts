// The wasm backend of tfjs 4.22 has no Conv2DBackpropFilter kernel, so the
// gradient of conv2d with respect to its filter fails there. It does have
// Conv3DBackpropFilterV2; a 2-D convolution is a 3-D one with depth 1, so we
// register the missing kernel as a view onto the 3-D one (no data is copied).
import { tf } from '../util/tf';

type Info = { dataId: object; shape: number[]; dtype: tf.DataType };

let registered = false;

/** Registers Conv2DBackpropFilter for wasm if tfjs lacks it. Safe to call repeatedly. */
export function ensureWasmConvFilterGrad(): void {
  if (registered) return;
  registered = true;
  if (tf.getKernel('Conv2DBackpropFilter', 'wasm')) return;
  const conv3d = tf.getKernel('Conv3DBackpropFilterV2', 'wasm');
  if (!conv3d) return;
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const x = inputs.x as unknown as Info;
      const dy = inputs.dy as unknown as Info;
      const a = attrs as unknown as {
        strides: number | [number, number];
        pad: unknown;
        dataFormat?: string;
        dimRoundingMode?: string;
        filterShape: [number, number, number, number];
      };
      if ((a.dataFormat ?? 'NHWC') !== 'NHWC' || (a.pad !== 'same' && a.pad !== 'valid') || a.dimRoundingMode != null) {
        throw new Error(`Conv2DBackpropFilter on wasm supports NHWC with pad "same" or "valid" only (got ${a.dataFormat}, ${String(a.pad)})`);
      }
      const [sh, sw] = typeof a.strides === 'number' ? [a.strides, a.strides] : a.strides;
      const [kh, kw, inC, outC] = a.filterShape;
      const as5d = (t: Info): Info => ({ dataId: t.dataId, shape: [t.shape[0], 1, t.shape[1], t.shape[2], t.shape[3]], dtype: t.dtype });
      const out = conv3d.kernelFunc({
        inputs: { x: as5d(x), dy: as5d(dy) } as unknown as tf.NamedTensorInfoMap,
        backend,
        attrs: { strides: [1, sh, sw], pad: a.pad, filterShape: [1, kh, kw, inC, outC] },
      }) as unknown as Info;
      return { dataId: out.dataId, shape: [kh, kw, inC, outC], dtype: out.dtype } as unknown as tf.TensorInfo;
    },
  });
}
