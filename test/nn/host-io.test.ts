// host-io: peek reads a tensor's values in place (a view into the wasm heap, which
// relies on tfjs-wasm internals: this test is the alarm if an upgrade moves them),
// and scratch reuses its arrays only where uploads copy them.
import { tf, useBackend } from '../../src/util/tf';
import { peek, scratch } from '../../src/nn/host-io';
import { normalTensor } from './helpers';

afterAll(() => useBackend('wasm'));

describe.each(['wasm', 'cpu'] as const)('on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  test('peek gives the same values as dataSync, after other tensors come and go', () => {
    const before = tf.memory().numTensors;
    const a = normalTensor([3, 1000], 1);
    const b = tf.tidy(() => tf.relu(normalTensor([64, 64], 2)));
    tf.dispose(tf.add(a, 1));
    for (const t of [a, b]) expect(Array.from(peek(t))).toEqual(Array.from(t.dataSync()));
    // In place, not a copy (wasm's dataSync copies; a silent fallback to it would be slow).
    if (backend === 'wasm') expect(peek(a).buffer === peek(b).buffer).toBe(true);
    tf.dispose([a, b]);
    expect(tf.memory().numTensors).toBe(before);
  });

  test('scratch: reused where uploads copy (wasm), fresh where a tensor would alias it (cpu)', () => {
    const first = scratch('host-io-test', 10);
    first.fill(7);
    const t = tf.tensor(first, [10]);
    const second = scratch('host-io-test', 10);
    second.fill(1);
    expect(second === first).toBe(backend === 'wasm');
    expect(Array.from(t.dataSync())).toEqual(new Array(10).fill(7)); // the tensor kept its values
    expect(scratch('host-io-test', 4).length).toBe(4);
    t.dispose();
  });
});
