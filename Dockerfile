# emstream pipeline image: `docker compose up` runs it against the kafka service (see docker-compose.yml).
#   docker build -t emstream .
#   docker run --rm emstream run --help
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY pipelines ./pipelines
# The build compiles the TypeScript and the AssemblyScript SIMD kernels (asc, a dev dependency) into dist.
RUN npm run build && npm prune --omit=dev

FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
# `node` is PID 1 (with `init: true` in compose, tini forwards signals): SIGTERM stops the pipeline gracefully.
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["run", "--help"]
