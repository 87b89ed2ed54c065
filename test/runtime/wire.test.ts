import { UnsendableValueError, checkSendable, decodeBody, decodeHeader, encodeFrame } from '../../src/runtime/wire';
import { PushInputError } from '../../src/util/errors';
import { expectExact, nest, sendableValues, unsendableValues } from './sendable-values';

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

describe('the values a frame carries', () => {
  const roundTrip = (v: unknown) => decodeBody(encodeFrame({ k: 'call' }, v));

  test.each(sendableValues())('%s round-trips exactly', (_name, value) => {
    expectExact(roundTrip(value), value);
    expectExact(roundTrip([value]), [value]); // inside an argument list too
  });

  test('all of them together, and look-alikes of the placeholders next to real typed arrays come back unchanged', () => {
    const all = sendableValues().map(([, v]) => v);
    expectExact(roundTrip(all), all);
    const lookAlikes = [Int16Array.from([9]), { $bin: 0, t: 'Float32Array' }, { $bin: 0, t: 'Int16Array' }, { $tensor: { $bin: 0 } }, Float32Array.from([1])];
    expectExact(roundTrip(lookAlikes), lookAlikes);
  });

  test('typed arrays still travel as zero-copy segments, not through msgpackr', () => {
    const big = new Float32Array(1 << 20).fill(1.5);
    const frame = encodeFrame({}, [big]);
    expect(frame.byteLength).toBeLessThan(big.byteLength + 256);
    expect(decodeBody<Float32Array[]>(frame)[0].buffer).toBe(frame.buffer);
  });

  test.each(unsendableValues())('%s is refused before encoding, with its path', (_name, value, message) => {
    let caught: unknown;
    try {
      encodeFrame({ k: 'call' }, [value]);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UnsendableValueError);
    expect(caught).toBeInstanceOf(PushInputError);
    const named = (caught as UnsendableValueError).within('launch("train")', true);
    expect(named.message).toMatch(/^launch\("train"\) argument 1/);
    expect(named.message).toMatch(message);
    expect(named.message).not.toMatch(/\n/);
    expect(() => checkSendable(value)).toThrow(message); // the bare error names the path too
  });

  test('nesting is bounded: 64 levels inside an argument pass, 65 are refused', () => {
    expect(() => encodeFrame({}, [nest(64)])).not.toThrow();
    expect(() => encodeFrame({}, [nest(65)])).toThrow(/nesting deeper than 64 levels/);
  });
});
