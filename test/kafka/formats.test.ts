import { describe, expect, it } from 'vitest';
import { EmstreamOptionsError } from '../../src/errors.js';
import { createDecoder, encodeVector, VECTOR_FORMATS, type DecodeResult } from '../../src/kafka/formats.js';

const where = { topic: 'points', partition: 2, offset: '41' };
const b = (text: string): Buffer => Buffer.from(text);

function failure(result: DecodeResult): { reason: string; message: string; field?: number | string } {
  if (result.ok) throw new Error(`expected a failure, got ${JSON.stringify(result)}`);
  return result;
}

function vector(result: DecodeResult): number[] {
  if (!result.ok) throw new Error(`expected a vector, got ${result.reason}: ${result.message}`);
  return Array.from(result.vector);
}

describe('json-array', () => {
  const decode = createDecoder({ format: 'json-array', dimension: 3 });

  it('decodes an array of numbers', () => {
    expect(vector(decode(b('[1.5, -2, 3e2]')))).toEqual([1.5, -2, 300]);
  });

  it('rejects each kind of bad message with a reason and a message saying where and what to do', () => {
    const cases: [string | null, string, RegExp][] = [
      [null, 'empty', /no value.*topic "points", partition 2, offset 41/],
      ['', 'empty', /no value/],
      ['[1, 2', 'not-json', /not valid JSON.*offset 41.*--format/],
      ['NaN', 'not-json', /not valid JSON/],
      ['{"a": 1}', 'not-a-vector', /expected a JSON array of numbers, got an object/],
      ['[]', 'empty', /empty/],
      ['[1, 2]', 'wrong-dimension', /2 coordinates, expected 3.*--dimension/],
      ['[1, "2", 3]', 'not-numeric', /element 1 is the string "2"/],
      ['[1, null, 3]', 'not-numeric', /element 1 is null/],
      ['[1, 1e999, 3]', 'non-finite', /element 1 is Infinity/],
    ];
    for (const [text, reason, message] of cases) {
      const f = failure(decode(text === null ? null : b(text), where));
      expect(f.reason, String(text)).toBe(reason);
      expect(f.message, String(text)).toMatch(message);
    }
  });

  it('rejects messages over maxBytes as oversized', () => {
    const small = createDecoder({ format: 'json-array', maxBytes: 10 });
    const f = failure(small(b('[1,2,3,4,5,6,7]'), where));
    expect(f).toMatchObject({ reason: 'oversized' });
    expect(f.message).toMatch(/15 bytes, more than the limit of 10.*offset 41/);
    expect(vector(small(b('[1,2]')))).toEqual([1, 2]);
  });

  it('accepts any length when no dimension is given', () => {
    const any = createDecoder({ format: 'json-array' });
    expect(vector(any(b('[1]')))).toEqual([1]);
    expect(vector(any(b('[1,2,3,4]')))).toEqual([1, 2, 3, 4]);
  });
});

describe('json-object', () => {
  const decode = createDecoder({ format: 'json-object', fields: ['temperature', 'humidity'] });

  it('takes the named fields in order and ignores the others', () => {
    expect(vector(decode(b('{"humidity": 40, "sensor": "a7", "temperature": 21.5}')))).toEqual([21.5, 40]);
  });

  it('reports a missing field, a non-numeric field, and a non-object by name', () => {
    expect(failure(decode(b('{"temperature": 21.5}'), where))).toMatchObject({ reason: 'missing-field', field: 'humidity', message: expect.stringMatching(/field "humidity" is missing.*offset 41.*--fields/) });
    expect(failure(decode(b('{"temperature": "hot", "humidity": 1}'), where))).toMatchObject({ reason: 'not-numeric', field: 'temperature' });
    expect(failure(decode(b('{"temperature": null, "humidity": 1}')))).toMatchObject({ reason: 'not-numeric' });
    expect(failure(decode(b('[21.5, 40]')))).toMatchObject({ reason: 'not-a-vector' });
    expect(failure(decode(b('{"temperature": 1e400, "humidity": 1}')))).toMatchObject({ reason: 'non-finite' });
    expect(failure(decode(b('{temperature: 1}')))).toMatchObject({ reason: 'not-json' });
  });

  it('without fields, reads the "vector" array', () => {
    const plain = createDecoder({ format: 'json-object', dimension: 2 });
    expect(vector(plain(b('{"vector": [1, 2], "id": 7}')))).toEqual([1, 2]);
    expect(failure(plain(b('{"id": 7}')))).toMatchObject({ reason: 'missing-field', field: 'vector' });
    expect(failure(plain(b('{"vector": "1,2"}')))).toMatchObject({ reason: 'not-a-vector' });
    expect(failure(plain(b('{"vector": [1, 2, 3]}')))).toMatchObject({ reason: 'wrong-dimension' });
  });
});

describe('csv', () => {
  const decode = createDecoder({ format: 'csv', dimension: 3 });

  it('decodes one line, ignoring spaces and a trailing newline', () => {
    expect(vector(decode(b(' 1.5, -2 ,3e2\n')))).toEqual([1.5, -2, 300]);
  });

  it('rejects blank, short, non-numeric, non-finite and multi-line messages', () => {
    expect(failure(decode(b('  \n'), where))).toMatchObject({ reason: 'empty' });
    expect(failure(decode(b('1,2'), where))).toMatchObject({ reason: 'wrong-dimension', message: expect.stringMatching(/2 values, expected 3/) });
    expect(failure(decode(b('1,abc,3'), where))).toMatchObject({ reason: 'not-numeric', field: 1, message: expect.stringMatching(/value 1 is "abc"/) });
    expect(failure(decode(b('1,,3'), where))).toMatchObject({ reason: 'not-numeric', field: 1 });
    expect(failure(decode(b('1,NaN,3'), where))).toMatchObject({ reason: 'non-finite', field: 1 });
    expect(failure(decode(b('1,Infinity,3'), where))).toMatchObject({ reason: 'non-finite' });
    expect(failure(decode(b('1,2,3\n4,5,6'), where))).toMatchObject({ reason: 'not-a-vector' });
  });
});

describe('float32le / float64le', () => {
  it('round-trips through encodeVector', () => {
    const f32 = createDecoder({ format: 'float32le', dimension: 3 });
    const f64 = createDecoder({ format: 'float64le', dimension: 3 });
    expect(vector(f32(encodeVector([1.5, -2, 0.25], 'float32le')))).toEqual([1.5, -2, 0.25]);
    expect(vector(f64(encodeVector([0.1, -2, 1e300], 'float64le')))).toEqual([0.1, -2, 1e300]);
  });

  it('decodes unaligned buffers (slices of a fetch response)', () => {
    const big = Buffer.alloc(1 + 12);
    encodeVector([1, 2, 3], 'float32le').copy(big, 1);
    expect(vector(createDecoder({ format: 'float32le', dimension: 3 })(big.subarray(1)))).toEqual([1, 2, 3]);
  });

  it('rejects a length that is not a multiple of the width, the wrong count, and NaN', () => {
    const f32 = createDecoder({ format: 'float32le', dimension: 2 });
    expect(failure(f32(Buffer.alloc(7), where))).toMatchObject({ reason: 'wrong-dimension', message: expect.stringMatching(/7 bytes, not a multiple of 4.*offset 41/) });
    expect(failure(f32(Buffer.alloc(12), where))).toMatchObject({ reason: 'wrong-dimension', message: expect.stringMatching(/3 float32le values, expected 2/) });
    expect(failure(f32(encodeVector([1, Number.NaN], 'float32le'), where))).toMatchObject({ reason: 'non-finite', field: 1 });
    expect(failure(createDecoder({ format: 'float64le', dimension: 2 })(Buffer.alloc(12)))).toMatchObject({ reason: 'wrong-dimension' });
    expect(failure(f32(Buffer.alloc(0)))).toMatchObject({ reason: 'empty' });
  });
});

describe('createDecoder options', () => {
  it('rejects inconsistent options when created, saying what to do', () => {
    expect(() => createDecoder({ format: 'float32le' })).toThrow(EmstreamOptionsError);
    expect(() => createDecoder({ format: 'float32le' })).toThrow(/dimension.*required.*--dimension/);
    expect(() => createDecoder({ format: 'csv', fields: ['a'] })).toThrow(/only apply to the json-object format/);
    expect(() => createDecoder({ format: 'json-object', fields: ['a', 'b'], dimension: 3 })).toThrow(/must agree/);
    expect(() => createDecoder({ format: 'yaml' as never })).toThrow(/unknown format "yaml"/);
  });

  it('round-trips every format through encodeVector', () => {
    for (const format of VECTOR_FORMATS) {
      const fields = format === 'json-object' ? ['a', 'b', 'c'] : undefined;
      const decode = createDecoder({ format, fields, dimension: 3 });
      expect(vector(decode(encodeVector([1, -0.5, 4], format, fields))), format).toEqual([1, -0.5, 4]);
    }
  });
});
