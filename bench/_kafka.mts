import { benchKafka } from './kafka.js';
const r = await benchKafka({ brokers: [process.env.KAFKA_BROKERS!], repeat: Number(process.argv[2] ?? 1), only: process.argv[3] === 'all' ? undefined : 'em' });
console.log(JSON.stringify(r));
