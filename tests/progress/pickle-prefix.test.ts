/**
 * The never-execute pickle reader against bytes that CPython's `pickle.dumps` really wrote (the
 * base64 below; each case names the Python that made it), cut anywhere, and garbage.
 */
import { describe, expect, it } from 'vitest';
import { readPicklePrefix } from '../../src/progress/pickle-prefix.js';

const b64 = (s: string): Buffer => Buffer.from(s, 'base64');

/**
 * `pickle.dumps({'iter': 12345, 'options': {'resolution': 128, 'face_type': 'wf', 'archi': 'liae-ud',
 * 'ae_dims': 256, 'batch_size': 8, 'pretrain': False}, 'loss_history': [[0.5, 0.625], [0.25, 0.375]]},
 * protocol=P)`: the plain part of a DeepFaceLab `data.dat`.
 */
const PLAIN: Record<number, Buffer> = {
  2: b64('gAJ9cQAoWAQAAABpdGVycQFNOTBYBwAAAG9wdGlvbnNxAn1xAyhYCgAAAHJlc29sdXRpb25xBEuAWAkAAABmYWNlX3R5cGVxBVgCAAAAd2ZxBlgFAAAAYXJjaGlxB1gHAAAAbGlhZS11ZHEIWAcAAABhZV9kaW1zcQlNAAFYCgAAAGJhdGNoX3NpemVxCksIWAgAAABwcmV0cmFpbnELiXVYDAAAAGxvc3NfaGlzdG9yeXEMXXENKF1xDihHP+AAAAAAAABHP+QAAAAAAABlXXEPKEc/0AAAAAAAAEc/2AAAAAAAAGVldS4='),
  3: b64('gAN9cQAoWAQAAABpdGVycQFNOTBYBwAAAG9wdGlvbnNxAn1xAyhYCgAAAHJlc29sdXRpb25xBEuAWAkAAABmYWNlX3R5cGVxBVgCAAAAd2ZxBlgFAAAAYXJjaGlxB1gHAAAAbGlhZS11ZHEIWAcAAABhZV9kaW1zcQlNAAFYCgAAAGJhdGNoX3NpemVxCksIWAgAAABwcmV0cmFpbnELiXVYDAAAAGxvc3NfaGlzdG9yeXEMXXENKF1xDihHP+AAAAAAAABHP+QAAAAAAABlXXEPKEc/0AAAAAAAAEc/2AAAAAAAAGVldS4='),
  4: b64('gASVtgAAAAAAAAB9lCiMBGl0ZXKUTTkwjAdvcHRpb25zlH2UKIwKcmVzb2x1dGlvbpRLgIwJZmFjZV90eXBllIwCd2aUjAVhcmNoaZSMB2xpYWUtdWSUjAdhZV9kaW1zlE0AAYwKYmF0Y2hfc2l6ZZRLCIwIcHJldHJhaW6UiXWMDGxvc3NfaGlzdG9yeZRdlChdlChHP+AAAAAAAABHP+QAAAAAAABlXZQoRz/QAAAAAAAARz/YAAAAAAAAZWV1Lg=='),
  5: b64('gAWVtgAAAAAAAAB9lCiMBGl0ZXKUTTkwjAdvcHRpb25zlH2UKIwKcmVzb2x1dGlvbpRLgIwJZmFjZV90eXBllIwCd2aUjAVhcmNoaZSMB2xpYWUtdWSUjAdhZV9kaW1zlE0AAYwKYmF0Y2hfc2l6ZZRLCIwIcHJldHJhaW6UiXWMDGxvc3NfaGlzdG9yeZRdlChdlChHP+AAAAAAAABHP+QAAAAAAABlXZQoRz/QAAAAAAAARz/YAAAAAAAAZWV1Lg=='),
};

/** The same dict plus `'sample_for_preview': [np.zeros((2, 2), dtype=np.float32)], 'choosed_gpu_indexes': [0]`. */
const WITH_NUMPY: Record<number, Buffer> = {
  3: b64('gAN9cQAoWAQAAABpdGVycQFNOTBYBwAAAG9wdGlvbnNxAn1xAyhYCgAAAHJlc29sdXRpb25xBEuAWAkAAABmYWNlX3R5cGVxBVgCAAAAd2ZxBlgFAAAAYXJjaGlxB1gHAAAAbGlhZS11ZHEIWAcAAABhZV9kaW1zcQlNAAFYCgAAAGJhdGNoX3NpemVxCksIWAgAAABwcmV0cmFpbnELiXVYDAAAAGxvc3NfaGlzdG9yeXEMXXENKF1xDihHP+AAAAAAAABHP+QAAAAAAABlXXEPKEc/0AAAAAAAAEc/2AAAAAAAAGVlWBIAAABzYW1wbGVfZm9yX3ByZXZpZXdxEF1xEWNudW1weS5fY29yZS5tdWx0aWFycmF5Cl9yZWNvbnN0cnVjdApxEmNudW1weQpuZGFycmF5CnETSwCFcRRDAWJxFYdxFlJxFyhLAUsCSwKGcRhjbnVtcHkKZHR5cGUKcRlYAgAAAGY0cRqJiIdxG1JxHChLA1gBAAAAPHEdTk5OSv////9K/////0sAdHEeYolDEAAAAAAAAAAAAAAAAAAAAABxH3RxIGJhWBMAAABjaG9vc2VkX2dwdV9pbmRleGVzcSFdcSJLAGF1Lg=='),
  4: b64('gASVgwEAAAAAAAB9lCiMBGl0ZXKUTTkwjAdvcHRpb25zlH2UKIwKcmVzb2x1dGlvbpRLgIwJZmFjZV90eXBllIwCd2aUjAVhcmNoaZSMB2xpYWUtdWSUjAdhZV9kaW1zlE0AAYwKYmF0Y2hfc2l6ZZRLCIwIcHJldHJhaW6UiXWMDGxvc3NfaGlzdG9yeZRdlChdlChHP+AAAAAAAABHP+QAAAAAAABlXZQoRz/QAAAAAAAARz/YAAAAAAAAZWWMEnNhbXBsZV9mb3JfcHJldmlld5RdlIwWbnVtcHkuX2NvcmUubXVsdGlhcnJheZSMDF9yZWNvbnN0cnVjdJSTlIwFbnVtcHmUjAduZGFycmF5lJOUSwCFlEMBYpSHlFKUKEsBSwJLAoaUaBWMBWR0eXBllJOUjAJmNJSJiIeUUpQoSwOMATyUTk5OSv////9K/////0sAdJRiiUMQAAAAAAAAAAAAAAAAAAAAAJR0lGJhjBNjaG9vc2VkX2dwdV9pbmRleGVzlF2USwBhdS4='),
};

/**
 * `shared = [1, 2]; pickle.dumps({'neg': -5, 'big': 2**70, 'negbig': -(2**40), 'u': 'héllo ✓',
 * 'b': b'\x00\x01', 't': (1, 2, 3, 4), 't1': (7,), 'none': None, 'yes': True, 5: 'five',
 * 's1': shared, 's2': shared}, protocol=4)`.
 */
const MISC_4 = b64('gASVkAAAAAAAAAB9lCiMA25lZ5RK+////4wDYmlnlIoJAAAAAAAAAABAjAZuZWdiaWeUigYAAAAAAP+MAXWUjApow6lsbG8g4pyTlIwBYpRDAgABlIwBdJQoSwFLAksDSwR0lIwCdDGUSweFlIwEbm9uZZROjAN5ZXOUiEsFjARmaXZllIwCczGUXZQoSwFLAmWMAnMylGgQdS4=');
/** The same dict at protocol 2, where `b'\x00\x01'` is pickled as a call of `_codecs.encode`. */
const MISC_2 = b64('gAJ9cQAoWAMAAABuZWdxAUr7////WAMAAABiaWdxAooJAAAAAAAAAABAWAYAAABuZWdiaWdxA4oGAAAAAAD/WAEAAAB1cQRYCgAAAGjDqWxsbyDinJNxBVgBAAAAYnEGY19jb2RlY3MKZW5jb2RlCnEHWAIAAAAAAXEIWAYAAABsYXRpbjFxCYZxClJxC1gBAAAAdHEMKEsBSwJLA0sEdHENWAIAAAB0MXEOSweFcQ9YBAAAAG5vbmVxEE5YAwAAAHllc3ERiEsFWAQAAABmaXZlcRJYAgAAAHMxcRNdcRQoSwFLAmVYAgAAAHMycRVoFHUu');

const OPTIONS = { resolution: 128, face_type: 'wf', archi: 'liae-ud', ae_dims: 256, batch_size: 8, pretrain: false };
const HISTORY = [
  [0.5, 0.625],
  [0.25, 0.375],
];

describe('readPicklePrefix', () => {
  it.each([2, 3, 4, 5])('reads a whole protocol-%i pickle of plain values', (protocol) => {
    const read = readPicklePrefix(PLAIN[protocol] as Buffer);
    expect(read.complete).toBe(true);
    expect(read.stoppedBy).toBe('stop');
    expect({ ...(read.value as object) }).toEqual({ iter: 12345, options: OPTIONS, loss_history: HISTORY });
    expect(read.incomplete.size).toBe(0);
  });

  it.each([3, 4])('stops at numpy in protocol %i with the plain values before it read whole', (protocol) => {
    const read = readPicklePrefix(WITH_NUMPY[protocol] as Buffer);
    expect(read.complete).toBe(false);
    // GLOBAL (`c`) in protocol 3, STACK_GLOBAL after two strings in protocol 4.
    expect(read.stoppedBy).toBe(protocol === 3 ? 'opcode 0x63' : 'opcode 0x93');
    const value = read.value as Record<string, unknown>;
    expect(value.iter).toBe(12345);
    expect(value.options).toEqual(OPTIONS);
    expect(value.loss_history).toEqual(HISTORY);
    expect(read.incomplete.has(value)).toBe(true);
    expect(read.incomplete.has(value.loss_history as object)).toBe(false);
    expect(read.incomplete.has(value.options as object)).toBe(false);
    // Nothing after the stop was read.
    expect('choosed_gpu_indexes' in value).toBe(false);
  });

  it('reads ints of every width, unicode, bytes, tuples, None, bools, int keys and shared references', () => {
    const value = readPicklePrefix(MISC_4).value as Record<string, unknown>;
    expect(value.neg).toBe(-5);
    expect(value.big).toBe(2n ** 70n);
    expect(value.negbig).toBe(-(2 ** 40));
    expect(value.u).toBe('héllo ✓');
    expect(value.b).toEqual(Buffer.from([0, 1]));
    expect(value.t).toEqual([1, 2, 3, 4]);
    expect(value.t1).toEqual([7]);
    expect(value.none).toBeNull();
    expect(value.yes).toBe(true);
    expect(value['5']).toBe('five');
    expect(value.s1).toEqual([1, 2]);
    expect(value.s2).toBe(value.s1);
  });

  it('never calls what protocol 2 pickles as a call: it stops at the GLOBAL and keeps the keys before it', () => {
    const read = readPicklePrefix(MISC_2);
    expect(read.stoppedBy).toBe('opcode 0x63');
    const value = read.value as Record<string, unknown>;
    expect(value.u).toBe('héllo ✓');
    expect('b' in value).toBe(false);
    expect('t' in value).toBe(false);
  });

  it('marks what a cut-off prefix left unfinished, and keeps what was finished', () => {
    const whole = PLAIN[4] as Buffer;
    // Cut inside the second loss pair: after its first float.
    const cut = whole.indexOf(Buffer.from([0x47, 0x3f, 0xd0])) + 9;
    const read = readPicklePrefix(whole.subarray(0, cut));
    expect(read.stoppedBy).toBe('end');
    const value = read.value as Record<string, unknown>;
    expect(value.iter).toBe(12345);
    expect(value.options).toEqual(OPTIONS);
    const history = value.loss_history as unknown[][];
    expect(read.incomplete.has(history)).toBe(true);
    expect(history[0]).toEqual([0.5, 0.625]);
    expect(read.incomplete.has(history[0] as object)).toBe(false);
    expect(history[1]).toEqual([0.25]);
    expect(read.incomplete.has(history[1] as object)).toBe(true);
  });

  it('never throws on any prefix of a real pickle, nor on garbage', () => {
    for (const bytes of [...Object.values(PLAIN), ...Object.values(WITH_NUMPY), MISC_2, MISC_4]) {
      for (let n = 0; n <= bytes.length; n++) {
        const read = readPicklePrefix(bytes.subarray(0, n));
        expect(read.complete).toBe(n === bytes.length && read.stoppedBy === 'stop');
      }
    }
    let seed = 12345;
    const random = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 256;
    for (let i = 0; i < 2000; i++) {
      const bytes = Buffer.from(Array.from({ length: 1 + (i % 64) }, random));
      expect(() => readPicklePrefix(bytes)).not.toThrow();
    }
  });

  it('refuses a length that points past the bytes instead of allocating it', () => {
    // BINUNICODE8 claiming 2^40 bytes, then nothing.
    const bytes = Buffer.concat([Buffer.from([0x80, 0x04, 0x8d]), Buffer.from([0, 0, 0, 0, 0, 1, 0, 0])]);
    const read = readPicklePrefix(bytes);
    expect(read.stoppedBy).toBe('end');
    expect(read.value).toBeUndefined();
  });

  it('reads the memo of protocol 0 text opcodes it knows and stops at the first it does not', () => {
    // pickle.dumps({'a': 1}, protocol=0) == b'(dp0\nVa\np1\nI1\ns.'
    const read = readPicklePrefix(Buffer.from('(dp0\nVa\np1\nI1\ns.', 'latin1'));
    expect(read.stoppedBy).toBe('opcode 0x56');
    expect({ ...(read.value as object) }).toEqual({});
  });
});

describe('readPicklePrefix: what a stop leaves', () => {
  // pickle.dumps({'iter': 7, 'options': {'face_type': 'wf', 'resolution': np.int64(128)}}, protocol=P):
  // DeepFaceLab's options hold numpy scalars, built by STACK_GLOBAL (protocol 4) or GLOBAL (2).
  const P4 = b64('gASVowAAAAAAAAB9lCiMBGl0ZXKUSweMB29wdGlvbnOUfZQojAlmYWNlX3R5cGWUjAJ3ZpSMCnJlc29sdXRpb26UjBZudW1weS5fY29yZS5tdWx0aWFycmF5lIwGc2NhbGFylJOUjAVudW1weZSMBWR0eXBllJOUjAJpOJSJiIeUUpQoSwOMATyUTk5OSv////9K/////0sAdJRiQwiAAAAAAAAAAJSGlFKUdXUu');
  const P2 = b64('gAJ9cQAoWAQAAABpdGVycQFLB1gHAAAAb3B0aW9uc3ECfXEDKFgJAAAAZmFjZV90eXBlcQRYAgAAAHdmcQVYCgAAAHJlc29sdXRpb25xBmNudW1weS5fY29yZS5tdWx0aWFycmF5CnNjYWxhcgpxB2NudW1weQpkdHlwZQpxCFgCAAAAaThxCYmIh3EKUnELKEsDWAEAAAA8cQxOTk5K/////0r/////SwB0cQ1iY19jb2RlY3MKZW5jb2RlCnEOWAkAAADCgAAAAAAAAABxD1gGAAAAbGF0aW4xcRCGcRFScRKGcRNScRR1dS4=');

  it.each([
    [4, P4],
    [2, P2],
  ])('never pairs a key with the pieces of a numpy scalar it stopped at (protocol %i)', (_protocol, bytes) => {
    const read = readPicklePrefix(bytes);
    const value = read.value as Record<string, unknown>;
    expect(value.iter).toBe(7);
    const options = value.options as Record<string, unknown>;
    expect(read.incomplete.has(options)).toBe(true);
    expect(options.face_type).toBe('wf');
    expect('resolution' in options).toBe(false);
  });
});
