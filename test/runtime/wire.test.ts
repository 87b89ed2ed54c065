import { decodeBody, decodeHeader, encodeFrame } from '../../src/runtime/wire';

describe('wire frames', () => {
  test('header and body round-trip; typed arrays come back as aligned views', () => {
    const f32 = Float32Array.from([1.5, -2, 3]);
    const i32 = Int32Array.from([7, 8]);
    const body = { a: f32, nested: [{ b: i32, s: 'text' }, 4], u8: Uint8Array.from([1, 2, 3]), n: null };
    const frame = encodeFrame({ k: 'call', id: 'c:1', to: 0 }, body);
    expect(decodeHeader(frame)).toEqual({ k: 'call', id: 'c:1', to: 0 });
    const out = decodeBody<typeof body>(frame);
    expect(Array.from(out.a)).toEqual([1.5, -2, 3]);
    expect(Object.prototype.toString.call(out.a)).toBe('[object Float32Array]');
    expect(out.a.buffer).toBe(frame.buffer); // zero-copy view
    expect(Array.from((out.nested[0] as { b: Int32Array }).b)).toEqual([7, 8]);
    expect((out.nested[0] as { s: string }).s).toBe('text');
    expect(Array.from(out.u8)).toEqual([1, 2, 3]);
    expect(out.n).toBeNull();
  });

  test('a subarray view sends only its own elements', () => {
    const big = Float64Array.from([0, 1, 2, 3, 4, 5]);
    const out = decodeBody<Float64Array>(encodeFrame({}, big.subarray(2, 4)));
    expect(Array.from(out)).toEqual([2, 3]);
  });

  test('an unaligned frame is copied, not misread', () => {
    const frame = encodeFrame({ k: 'x' }, Float32Array.from([9, 8, 7]));
    const shifted = new Uint8Array(frame.byteLength + 1);
    shifted.set(frame, 1);
    expect(Array.from(decodeBody<Float32Array>(shifted.subarray(1)))).toEqual([9, 8, 7]);
  });
});
