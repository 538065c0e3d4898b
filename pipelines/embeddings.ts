/**
 * Embeddings → topics.
 *
 * Each Kafka message is one embedding of 16 little-endian float32 values (64 bytes), as written by e.g.
 * `Buffer.from(new Float32Array(vector).buffer)` or numpy's `vector.astype('<f4').tobytes()`; the key (a
 * document id, say) rides along to the labels. Windows of 1000 embeddings fit an 8-component mixture with
 * diagonal covariances (cheap in 16-D), warm-started from the previous window with a half-life of 20 windows.
 *
 * Run it with `emstream run --pipeline embeddings --brokers HOST:PORT` (see the README). The runner restores the
 * saved state on `embeddings.models` into this `fitMixture` (`--fresh` starts over).
 */
import { definePipeline, fitMixture, windowVectors } from 'emstream';

/** Coordinates per embedding. */
export const EMBEDDING_DIMENSION = 16;

export default definePipeline({
  name: 'embeddings',
  description: `float32 embeddings (D=${EMBEDDING_DIMENSION}) → 8 clusters, windows of 1000`,
  kafka: {
    input: 'embeddings',
    labels: 'embeddings.labels',
    models: 'embeddings.models',
    deadLetters: 'embeddings.dead-letters',
    group: 'emstream-embeddings',
    format: 'float32le',
    dimension: EMBEDDING_DIMENSION,
  },
  build: (embeddings, { onInvalid, instrumentation }) =>
    embeddings.pipe(
      windowVectors({ size: 1000, dimension: EMBEDDING_DIMENSION, onInvalid }),
      fitMixture({ k: 8, covarianceType: 'diag', halfLife: 20, restart: 'on-drift', seed: 1, instrumentation }),
    ),
});
