/**
 * Sensor readings → operating regimes.
 *
 * Each Kafka message is one reading of a machine, a JSON object with named fields, e.g.
 * `{"sensor": "press-7", "temperature": 61.2, "humidity": 38.5, "vibration": 0.8, "current": 12.1}`.
 * The vector is (temperature, humidity, vibration, current); other fields (the sensor id) are ignored, and
 * the message key (the sensor id, say) rides along to the labels. Windows of 200 readings fit a 3-component
 * mixture (e.g. idle / running / overloaded) warm-started from the previous window, forgetting with a
 * half-life of 10 windows and restarting from cold when drift is detected.
 *
 * Run it with `emstream run --pipeline sensors --brokers HOST:PORT` (see the README). The runner restores the
 * saved state of the pipeline id on `sensors.models` into this `fitMixture` (versions, statistics and drift
 * detector continue after a restart; `--fresh` starts over), and sends rejected readings to `sensors.dead-letters`.
 */
import { definePipeline, fitMixture, windowVectors } from 'emstream';

/** The reading's fields that make the vector, in order. */
export const SENSOR_FIELDS = ['temperature', 'humidity', 'vibration', 'current'] as const;

export default definePipeline({
  name: 'sensors',
  description: 'sensor readings (JSON objects: temperature, humidity, vibration, current) → 3 operating regimes, windows of 200',
  kafka: {
    input: 'sensors',
    labels: 'sensors.labels',
    models: 'sensors.models',
    deadLetters: 'sensors.dead-letters',
    group: 'emstream-sensors',
    format: 'json-object',
    fields: SENSOR_FIELDS,
    dimension: SENSOR_FIELDS.length,
  },
  build: (readings, { onInvalid, instrumentation }) =>
    readings.pipe(
      windowVectors({ size: 200, dimension: SENSOR_FIELDS.length, onInvalid }),
      fitMixture({ k: 3, covarianceType: 'full', halfLife: 10, restart: 'on-drift', restarts: 3, seed: 1, instrumentation }),
    ),
});
