# Image for the TopologyConfig admission webhook + reconciler.
# Three stages: build (all deps, tsc), prod-deps (runtime deps only), runtime.
# Only compiled JavaScript, production node_modules and package.json reach the
# final image; it runs as a numeric non-root user on a read-only root fs.

FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# Full install: the dev dependencies include typescript and the `node` package
# that pins Node 24 for npm scripts.
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:24-bookworm-slim AS prod-deps
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: no runtime dependency has an install script, and the only
# one that does (the dev-only `node` package) is omitted anyway.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    && npm cache clean --force

FROM node:24-bookworm-slim AS runtime
# npm and corepack are not needed at run time; removing them shrinks the
# attack surface of the final image.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
    /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack
ENV NODE_ENV=production
# V8's heap as a share of the container's memory limit (Node reads the cgroup's
# limit) and a small young generation. Without them Node sizes its heap to
# about the limit itself, so the kernel kills the container before V8 collects
# hard. bench/memory.ts measured the resident set at about the heap plus
# 105 MiB (code, modules, buffers): half the limit for the heap collects
# before the limit, and a heap too small for the cluster ends in V8's own
# "heap out of memory" message rather than a silent kill. deploy/ and the
# chart set the same.
ENV NODE_OPTIONS="--max-old-space-size-percentage=50 --max-semi-space-size=2"
# Two glibc malloc arenas instead of eight per core: with one per thread
# (V8's workers, libuv's pool) freed memory stays spread over arenas and is
# not reused. At the seed's 128Mi, with the Node binary's pages charged as a
# container's are, this is what keeps the process from thrashing
# (bench/memory.ts, README "Memory inside the limit").
ENV MALLOC_ARENA_MAX=2
WORKDIR /app
# Files stay owned by root: the process can read its code but not change it.
COPY --from=prod-deps /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY package.json ./
# /manager, the command the seed's Deployment and HariKube's Helm chart run:
# the server's entry point itself (it starts with `#!/usr/bin/env node`).
RUN chmod 0555 dist/src/server/main.js && ln -s /app/dist/src/server/main.js /manager
# 65532 is the conventional "nonroot" id; numeric so that the kubelet can
# verify runAsNonRoot without a passwd lookup.
USER 65532:65532
EXPOSE 9443 8081 8443
ENTRYPOINT ["/manager"]
