import { describe, expect, it } from 'vitest';
import { EmstreamError, InvalidInputError } from '../../src/errors.js';
import type { InvalidVector } from '../../src/operators/types.js';
import { describeLocation, extractVector, isVectorRecord, validateVector } from '../../src/operators/vectorInput.js';

/** Validate and return the rejection (fails the test when the input is accepted). */
function reject(input: unknown, expectedDim?: number, maxDim?: number): InvalidVector<unknown> {
  const result = validateVector(input, expectedDim, maxDim);
  if (result.ok) throw new Error(`expected ${JSON.stringify(input)} to be rejected`);
  expect(result.invalid.record).toBe(input);
  return result.invalid;
}

const kafka = { topic: 'points', partition: 3, offset: '42' };

describe('extractVector', () => {
  it('returns bare arrays and typed arrays as they are', () => {
    const array = [1, 2];
    const f64 = new Float64Array([1, 2]);
    const f32 = new Float32Array([1, 2]);
    const i32 = new Int32Array([1, 2]);
    expect(extractVector(array)).toBe(array);
    expect(extractVector(f64)).toBe(f64);
    expect(extractVector(f32)).toBe(f32);
    expect(extractVector(i32)).toBe(i32);
  });

  it("returns a record's vector field", () => {
    const vector = new Float64Array([1]);
    expect(extractVector({ vector, ...kafka })).toBe(vector);
  });

  it('returns undefined for anything else', () => {
    for (const input of [null, undefined, 3, '1,2', {}, { vector: '1,2' }, new BigInt64Array(2), new DataView(new ArrayBuffer(8))]) {
      expect(extractVector(input)).toBeUndefined();
    }
  });

  it('recognises records', () => {
    expect(isVectorRecord({ vector: [1] })).toBe(true);
    expect(isVectorRecord({ vector: undefined })).toBe(true);
    expect(isVectorRecord([1])).toBe(false);
    expect(isVectorRecord({ values: [1] })).toBe(false);
    expect(isVectorRecord(null)).toBe(false);
  });
});

describe('describeLocation', () => {
  it('names the Kafka coordinates a record carries', () => {
    expect(describeLocation({ vector: [1], ...kafka })).toBe(' (topic "points", partition 3, offset 42)');
    expect(describeLocation({ vector: [1], offset: 7 })).toBe(' (offset 7)');
    expect(describeLocation({ vector: [1] })).toBe('');
    expect(describeLocation([1, 2])).toBe('');
    expect(describeLocation(null)).toBe('');
  });
});

describe('validateVector', () => {
  it('accepts a finite vector without copying it', () => {
    const array = [1, -2.5, 0];
    const result = validateVector(array, 3);
    expect(result).toEqual({ ok: true, values: array });
    if (result.ok) expect(result.values).toBe(array);
    const f32 = new Float32Array([1, 2]);
    const fromRecord = validateVector({ vector: f32, ...kafka }, undefined);
    expect(fromRecord.ok && fromRecord.values).toBe(f32);
  });

  it('accepts any dimension when none is expected', () => {
    expect(validateVector([1, 2, 3, 4], undefined).ok).toBe(true);
  });

  describe('not-a-vector', () => {
    it('rejects a string and says to parse it', () => {
      const invalid = reject('1,2');
      expect(invalid.reason).toBe('not-a-vector');
      expect(invalid.field).toBeUndefined();
      expect(invalid.message).toBe(
        'expected an array of numbers, a Float64Array/Float32Array, or a record {"vector": [...]}, ' +
          'got the string "1,2": parse or decode the input into numbers before the stream',
      );
    });

    it('rejects null, numbers and bigint arrays', () => {
      expect(reject(null).message).toContain('got null');
      expect(reject(7).message).toContain('got 7');
      expect(reject(new BigInt64Array(2)).message).toContain('got a BigInt64Array');
    });

    it('rejects a record without a vector field, naming its Kafka coordinates', () => {
      const invalid = reject({ values: [1, 2], ...kafka });
      expect(invalid.reason).toBe('not-a-vector');
      expect(invalid.message).toContain('the record has no "vector" field (topic "points", partition 3, offset 42)');
      expect(invalid.message).toContain('put the point\'s coordinates in "vector"');
    });

    it('rejects a record whose vector field is not a vector', () => {
      const invalid = reject({ vector: '1,2', ...kafka });
      expect(invalid.reason).toBe('not-a-vector');
      expect(invalid.message).toMatch(/^the record's "vector" field is the string "1,2", not a vector \(topic "points", partition 3, offset 42\): /);
    });

    it('truncates long strings in messages', () => {
      expect(reject('x'.repeat(100)).message).toContain(`the string "${'x'.repeat(20)}…"`);
    });
  });

  it('rejects an empty vector', () => {
    const invalid = reject({ vector: [], ...kafka }, 2);
    expect(invalid.reason).toBe('empty');
    expect(invalid.message).toBe(
      'the vector is empty (topic "points", partition 3, offset 42): every point needs at least one coordinate; drop empty inputs upstream',
    );
  });

  it('rejects an oversized vector before anything else about its length', () => {
    const invalid = reject(new Float64Array(10), 2, 5);
    expect(invalid.reason).toBe('oversized');
    expect(invalid.message).toContain('the vector has 10 elements, more than the limit of 5');
    expect(validateVector([1, 2, 3, 4, 5], 5, 5).ok).toBe(true);
  });

  it('rejects a wrong dimension saying expected vs got and what to do', () => {
    const invalid = reject({ vector: [1, 2, 3], ...kafka }, 2);
    expect(invalid.reason).toBe('wrong-dimension');
    expect(invalid.field).toBeUndefined();
    expect(invalid.message).toBe(
      'the vector has dimension 3, expected 2 (topic "points", partition 3, offset 42): ' +
        'every point of a stream must have the same dimension; fix or drop this point, or set the dimension option to match the data',
    );
  });

  it('checks the dimension before the elements', () => {
    expect(reject([Number.NaN, 1, 2], 2).reason).toBe('wrong-dimension');
  });

  describe('not-numeric', () => {
    it.each([
      ['a string', '3', 'the string "3"'],
      ['null', null, 'null'],
      ['undefined', undefined, 'undefined'],
      ['a boolean', true, 'the boolean true'],
      ['an object', { x: 1 }, 'an object'],
      ['an array', [1], 'an array'],
      ['a bigint', 3n, 'the bigint 3n'],
    ])('names the index of %s', (_, value, described) => {
      const invalid = reject([1, 2, value, 4], 4);
      expect(invalid.reason).toBe('not-numeric');
      expect(invalid.field).toBe(2);
      expect(invalid.message).toBe(
        `element 2 is ${described}, not a number: send numbers (parse strings, fill or drop missing values) before the stream`,
      );
    });

    it('reports the first offending element, with Kafka coordinates', () => {
      const invalid = reject({ vector: [0, 'a', Number.NaN], ...kafka }, 3);
      expect(invalid.reason).toBe('not-numeric');
      expect(invalid.field).toBe(1);
      expect(invalid.message).toContain('element 1 is the string "a", not a number (topic "points", partition 3, offset 42): ');
    });
  });

  describe('non-finite', () => {
    it.each([
      ['NaN', Number.NaN],
      ['Infinity', Number.POSITIVE_INFINITY],
      ['-Infinity', Number.NEGATIVE_INFINITY],
    ])('names the index of %s in arrays', (name, value) => {
      const invalid = reject({ vector: [1, value], ...kafka }, 2);
      expect(invalid.reason).toBe('non-finite');
      expect(invalid.field).toBe(1);
      expect(invalid.message).toBe(
        `element 1 is ${name} (topic "points", partition 3, offset 42): ` +
          'clustering needs finite numbers; impute or drop missing values (NaN) and clip or drop infinite ones upstream',
      );
    });

    it('finds NaN in typed arrays', () => {
      const invalid = reject(new Float32Array([1, 2, Number.NaN]), 3);
      expect(invalid.reason).toBe('non-finite');
      expect(invalid.field).toBe(2);
      expect(invalid.message).toMatch(/^element 2 is NaN: /);
    });
  });
});

describe('InvalidInputError', () => {
  it('carries line/column/offset/field context and is not retriable', () => {
    const cause = new SyntaxError('Unexpected token');
    const error = new InvalidInputError('line 3 is not JSON: fix the file', { line: 3, column: 7, offset: 120, field: 'vector' }, cause);
    expect(error).toBeInstanceOf(EmstreamError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('InvalidInputError');
    expect(error.retriable).toBe(false);
    expect(error.cause).toBe(cause);
    expect(error.context).toEqual({ line: 3, column: 7, offset: 120, field: 'vector' });
    expect(String(error)).toBe('InvalidInputError: line 3 is not JSON: fix the file');
  });

  it('defaults to an empty context and no cause', () => {
    const error = new EmstreamError('something');
    expect(error.name).toBe('EmstreamError');
    expect(error.context).toEqual({});
    expect('cause' in error).toBe(false);
    expect(new EmstreamError('retry me', { retriable: true }).retriable).toBe(true);
  });
});
