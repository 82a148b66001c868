# syntax=docker/dockerfile:1
# One image for both processes (the API by default; the worker with `node dist/apps/worker/src/main.js`, and the
# migrations with `node node_modules/typeorm/cli.js migration:run -d dist/ormconfig.js`).
# Stages: compile with the dev dependencies, install the production dependencies alone, run as a non-root user.
ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json .swcrc nest-cli.json ormconfig.ts ./
COPY apps ./apps
COPY libs ./libs
RUN npm run build

FROM ${NODE_IMAGE} AS production-dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=3000
WORKDIR /app
COPY --from=production-dependencies --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --chown=root:root package.json ./
# The image's `node` user (uid 1000): the code and dependencies stay owned by root, read-only to the process.
USER node
# 3000: the API (HTTP and Socket.IO); 9464: /metrics and /health/live when METRICS_PORT=9464 (API and worker).
EXPOSE 3000 9464
# Liveness of the API; the worker (no HTTP on PORT) overrides it or relies on its orchestrator's probe.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node as PID 1 receives SIGTERM directly: the process drains (SHUTDOWN_GRACE_MS) and exits on its own.
CMD ["node", "dist/apps/api/src/main.js"]
