import { describe, expect, it } from 'vitest';
import { EmstreamOptionsError } from '../../src/errors.js';
import type { ProducedMessage, ProducerLike } from '../../src/kafka/client/ports.js';
import { createDecoder, encodeVector, VECTOR_FORMATS, type DecodeResult } from '../../src/kafka/source/formats.js';
import { BatchSender } from '../../src/kafka/delivery/batchSender.js';
import { deadLetterMessage } from '../../src/kafka/messages/deadLetters.js';
import { HEADERS, parseSourceHeader, sourceHeaders } from '../../src/kafka/messages/headers.js';
import { labelMessage } from '../../src/kafka/messages/labels.js';

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
      ['[1, 2]', 'wrong-dimension', /dimension 2, expected 3.*--dimension/],
      ['[1, "2", 3]', 'not-numeric', /element 1 is the string "2"/],
      ['[1, null, 3]', 'not-numeric', /element 1 is null/],
      ['[1, 1e999, 3]', 'non-finite', /element 1 is Infinity/],
      ['[1e160, 0, 1]', 'non-finite-in-use', /element 0 is 1e\+160.*offset 41\): its square overflows double precision.*rescale/],
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
    expect(failure(decode(b('{"temperature": "hot", "humidity": 1}'), where))).toMatchObject({
      reason: 'not-numeric',
      field: 'temperature',
      message: expect.stringMatching(/^field "temperature" is the string "hot", not a number \(topic "points", partition 2, offset 41\)/),
    });
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
    expect(failure(decode(b('1,2'), where))).toMatchObject({ reason: 'wrong-dimension', message: expect.stringMatching(/dimension 2, expected 3.*offset 41/) });
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
    expect(vector(f64(encodeVector([0.1, -2, 1e150], 'float64le')))).toEqual([0.1, -2, 1e150]);
    expect(failure(f64(encodeVector([0.1, -2, 1e300], 'float64le')))).toMatchObject({ reason: 'non-finite-in-use', field: 2 });
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

describe('output headers', () => {
  it('labels carry one header, emstream.source = <topic>/<partition>/<offset>, readable back', () => {
    const message = labelMessage({ record: { vector: [1, 2], key: 'k7', topic: 'points', partition: 2, offset: '41' }, label: 1, probability: 0.5, logDensity: -3, windowIndex: 4, modelVersion: 5 });
    expect(message.key).toBe('k7');
    expect(message.headers).toEqual({ [HEADERS.source]: 'points/2/41' });
    expect(JSON.parse(String(message.value))).toEqual({ label: 1, probability: 0.5, logDensity: -3, windowIndex: 4, modelVersion: 5 });
    expect(parseSourceHeader(Buffer.from('points/2/41'))).toEqual({ topic: 'points', partition: 2, offset: '41' });
    expect(parseSourceHeader(['a.b-c_d/0/9007199254740993'])).toEqual({ topic: 'a.b-c_d', partition: 0, offset: '9007199254740993' });
  });

  it('a record without coordinates gets no header; missing parts stay empty; malformed headers read as undefined', () => {
    expect(labelMessage({ record: [1, 2], label: 0, probability: 1, logDensity: 0, windowIndex: 0, modelVersion: 1 }).headers).toEqual({});
    expect(sourceHeaders('points', undefined, undefined)).toEqual({ [HEADERS.source]: 'points//' });
    expect(parseSourceHeader('points//')).toEqual({ topic: 'points', partition: undefined, offset: undefined });
    expect(parseSourceHeader(undefined)).toBeUndefined();
    expect(parseSourceHeader('points/0')).toBeUndefined();
    expect(parseSourceHeader('points/x/1')).toBeUndefined();
  });

  it('dead letters carry the source header, the reason, the message and the pipeline id', () => {
    const message = deadLetterMessage({ topic: 'points', partition: 0, offset: 3, key: 'k', value: Buffer.from('[1,') }, 'not-json', 'bad', 'p1');
    expect(message.headers).toEqual({ [HEADERS.source]: 'points/0/3', [HEADERS.reason]: 'not-json', [HEADERS.message]: 'bad', [HEADERS.pipelineId]: 'p1' });
  });
});

describe('BatchSender', () => {
  /** A producer whose sends complete when the test says so. */
  function manualProducer(): { producer: ProducerLike; sends: { topicMessages: { topic: string; messages: ProducedMessage[] }[]; resolve: () => void }[] } {
    const sends: { topicMessages: { topic: string; messages: ProducedMessage[] }[]; resolve: () => void }[] = [];
    const producer: ProducerLike = {
      connect: () => Promise.resolve(),
      disconnect: () => Promise.resolve(),
      sendBatch: (batch) => new Promise((resolve) => sends.push({ topicMessages: batch.topicMessages, resolve: () => resolve(undefined) })),
    };
    return { producer, sends };
  }
  const msg = (i: number): { topic: string; message: ProducedMessage } => ({ topic: 't', message: { value: String(i) } });

  it('while a send is in flight, keeps filling the open batch past its linger and sends it when the send completes; acks in order', async () => {
    const { producer, sends } = manualProducer();
    const sender = new BatchSender(producer, { lingerMs: 1, maxBatchMessages: 100 });
    const acks: number[] = [];
    sender.enqueue([msg(0)], () => acks.push(0));
    await new Promise((r) => setTimeout(r, 10));
    expect(sends).toHaveLength(1);
    for (let i = 1; i <= 5; i++) {
      sender.enqueue([msg(i)], () => acks.push(i));
      await new Promise((r) => setTimeout(r, 5)); // several lingers pass while the first send is in flight
    }
    expect(sends).toHaveLength(1);
    sends[0].resolve();
    await new Promise((r) => setTimeout(r, 0));
    expect(acks).toEqual([0]);
    expect(sends).toHaveLength(2);
    expect(sends[1].topicMessages[0].messages.map((m) => m.value)).toEqual(['1', '2', '3', '4', '5']);
    const flushed = sender.flush();
    sends[1].resolve();
    await flushed;
    expect(acks).toEqual([0, 1, 2, 3, 4, 5]);
    expect(sender.acknowledged).toBe(6);
  });
});
