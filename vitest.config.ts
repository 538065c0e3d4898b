import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    alias: [
      { find: /^emstream\/core$/, replacement: fileURLToPath(new URL('./src/core.ts', import.meta.url)) },
      { find: /^emstream$/, replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['./test/setup/wasm.ts', './test/setup/kafka.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
  },
});
