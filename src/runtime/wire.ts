// The wire format of every message that crosses a thread or process boundary.
//
// A frame is one ArrayBuffer:
//   u32 headerLength | header (msgpackr) | u32 skeletonLength | skeleton (msgpackr) | pad to 8 |
//   binary segments, each 8-byte aligned
// The header is small and holds routing fields, so the coordinator can route a
// frame by decoding only the header and forward the same bytes. The body's
// typed arrays (and tensors, as typed arrays with shape and dtype) are lifted
// out of the msgpackr skeleton into raw aligned segments: msgpackr copies large
// binaries byte by byte (~200 MB/s here), while one memcpy per segment runs at
// several GB/s and the receiver gets zero-copy views. Which values a body may
// hold, and how they map onto msgpackr, is wire-values.ts's business.
import { Packr } from './msgpackr';
import { FrameParts, joinFrame } from './frame-parts';
import { TYPED_ARRAY_CTORS, TensorHooks, TypedArray, liftValue, lowerValue, typedArrayName } from './wire-values';

export { FrameParts, joinFrame } from './frame-parts';
export { TensorData, TensorHooks, TypedArray, UnsendableValueError, WireTensor, checkSendable, nameUnsendable } from './wire-values';

const packr = new Packr({ useRecords: false, moreTypes: false });

const align8 = (n: number) => (n + 7) & ~7;

/**
 * Encodes a header and a body into one transferable frame. Throws an
 * UnsendableValueError, before anything is sent, when the body holds a value
 * a message cannot carry exactly.
 */
export function encodeFrame(header: object, body?: unknown, hooks?: TensorHooks): Uint8Array {
  return joinFrame(encodeFrameParts(header, body, hooks));
}

/** encodeFrame without the copy of the segments, for a sender that writes them out itself (a spill file). */
export function encodeFrameParts(header: object, body?: unknown, hooks?: TensorHooks): FrameParts {
  const lifted: ArrayBufferView[] = [];
  const skeleton = body === undefined ? undefined : liftValue(body, { segments: lifted, hooks });
  const refs = lifted.map((s) => ({ t: typedArrayName(s), n: s.byteLength }));
  const h = packr.pack(header);
  const sk = packr.pack({ b: skeleton, s: refs });
  const headLength = align8(4 + h.length + 4 + sk.length);
  let size = headLength;
  const offsets: number[] = [];
  for (const s of lifted) {
    offsets.push(size);
    size = align8(size + s.byteLength);
  }
  const head = new Uint8Array(new ArrayBuffer(headLength));
  const view = new DataView(head.buffer);
  view.setUint32(0, h.length, true);
  head.set(h, 4);
  view.setUint32(4 + h.length, sk.length, true);
  head.set(sk, 8 + h.length);
  const segments = lifted.map((s) => new Uint8Array(s.buffer, s.byteOffset, s.byteLength));
  return { head, segments, offsets, byteLength: size };
}

/** Decodes only the header: cheap, for routing. */
export function decodeHeader<H = Record<string, unknown>>(frame: Uint8Array): H {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const hl = view.getUint32(0, true);
  return packr.unpack(frame.subarray(4, 4 + hl)) as H;
}

/** Decodes the body. Typed arrays come back as views on the frame when it is 8-byte aligned. */
export function decodeBody<B = unknown>(frame: Uint8Array, hooks?: TensorHooks): B {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const hl = view.getUint32(0, true);
  const sl = view.getUint32(4 + hl, true);
  const { b, s } = packr.unpack(frame.subarray(8 + hl, 8 + hl + sl)) as { b: unknown; s: { t: string; n: number }[] };
  let off = align8(8 + hl + sl);
  const aligned = frame.byteOffset % 8 === 0;
  const segments: TypedArray[] = s.map(({ t, n }) => {
    const Ctor = TYPED_ARRAY_CTORS[t];
    const elems = n / ((Ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT);
    let arr: TypedArray;
    if (aligned) arr = new Ctor(frame.buffer, frame.byteOffset + off, elems);
    else {
      const copy = new Uint8Array(n);
      copy.set(frame.subarray(off, off + n));
      arr = new Ctor(copy.buffer, 0, elems);
    }
    off = align8(off + n);
    return arr;
  });
  return lowerValue(b, segments, hooks) as B;
}
