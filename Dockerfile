# syntax=docker/dockerfile:1
# The instapro pipeline image: the `instapro` CLI and the SQL it runs, nothing else. Airflow starts
# one pod per pipeline step from it (KubernetesPodOperator); deploy/README.md describes the rest.
#
#   docker build -t instapro:dev .
#   docker run --rm instapro:dev config --env-vars
#
# deploy/docker/verify-image-steps.sh replays these steps without a Docker engine; keep both in step.

# Node.js 24, an LTS line maintained until April 2028 (20 reached its end of life in April 2026).
# The CLI still runs on 20 and later (package.json engines); CI tests every supported line.
ARG NODE_IMAGE=node:24-slim

# ---- build: compile TypeScript to dist/ ---------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Dependencies first, so a source change does not reinstall them. --ignore-scripts skips the
# "prepare" script (tsc), which cannot run before the sources are copied; the build runs below.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
# Without src/bench, a developer tool (.dockerignore; tsconfig.build.json keeps it out of dist/ too).
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies, compiled code and SQL -------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only; --ignore-scripts again because "prepare" needs the dev compiler.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    && npm cache clean --force
COPY --from=build /app/dist ./dist
# The CLI finds its SQL relative to dist/ (src/db/sql-files.ts), so sql/ sits next to it.
COPY sql ./sql
# A small event log, so a fresh cluster can run the pipeline end to end without other data.
COPY data/sample ./data/sample

# The "node" user of the base image, by number: Kubernetes can then verify runAsNonRoot.
USER 1000:1000
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["--help"]
