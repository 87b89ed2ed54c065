// A frame before its segments are copied into one buffer (see wire.ts). No
// dependencies, so the process transport can load without msgpackr.

/**
 * `head` (the lengths, header, skeleton and padding) at offset 0, then each
 * segment at its offset. The segments are views of the sender's data: write
 * them before it changes.
 */
export interface FrameParts {
  head: Uint8Array;
  segments: Uint8Array[];
  offsets: number[];
  byteLength: number;
}

/** The parts copied into one frame buffer. */
export function joinFrame(parts: FrameParts): Uint8Array {
  if (parts.segments.length === 0) return parts.head;
  const frame = new Uint8Array(new ArrayBuffer(parts.byteLength));
  frame.set(parts.head, 0);
  parts.segments.forEach((s, i) => frame.set(s, parts.offsets[i]));
  return frame;
}
