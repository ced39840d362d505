# One image for every service of docker-compose.yml and deploy/k8s (frontend, io-node, app-node): the
# same entry points the tests run, built from this repository. The service's command picks the process.
#
# Your handlers: an app-node started without an argument runs the module APP_MODULE names, by default
# /app/handlers/index.js. Mount a directory there (docker run -v ./handlers:/app/handlers:ro ...), or
# build an image of your own from this one (docs/deploy.md):
#   FROM iocluster:local
#   COPY handlers/ /app/handlers/
#
# Two stages: `build` installs every dependency (TypeScript, esbuild, test tools) and compiles; the
# runtime stage gets only the production dependencies of the workspaces that run and the built files.

FROM node:20-slim AS build
WORKDIR /app

# Manifests first, so the dependency layer is reused while only sources change.
COPY package.json package-lock.json ./
COPY packages/shared/package.json packages/shared/
COPY packages/io-node/package.json packages/io-node/
COPY packages/app-node/package.json packages/app-node/
COPY packages/emitter/package.json packages/emitter/
COPY packages/frontend/package.json packages/frontend/
COPY packages/client/package.json packages/client/
COPY packages/devkit/package.json packages/devkit/
COPY example/package.json example/
COPY bench/package.json bench/
# npm install, not npm ci: the lockfile carries no registry URLs, and npm ci then asks for every
# platform's optional packages; npm install installs the same locked versions.
RUN npm install --no-audit --no-fund

COPY . .
# tsc -b for every package and the example, then the page bundle (example/public/chat.bundle.js).
RUN npm run build


FROM node:20-slim
WORKDIR /app
ENV NODE_ENV=production
# The handlers module `node packages/app-node/dist/main.js` runs when given none on its command line. It
# may import @iocluster/app-node and @iocluster/shared: /app/node_modules resolves them.
ENV APP_MODULE=/app/handlers/index.js

# The workspaces that run (and their manifests, which npm's lockfile names); client, devkit and bench
# are for browsers, development and benchmarks only.
COPY package.json package-lock.json ./
COPY packages/shared/package.json packages/shared/
COPY packages/io-node/package.json packages/io-node/
COPY packages/app-node/package.json packages/app-node/
COPY packages/emitter/package.json packages/emitter/
COPY packages/frontend/package.json packages/frontend/
COPY packages/client/package.json packages/client/
COPY packages/devkit/package.json packages/devkit/
COPY example/package.json example/
COPY bench/package.json bench/
RUN npm install --omit=dev --no-audit --no-fund \
      --workspace packages/shared --workspace packages/io-node --workspace packages/app-node \
      --workspace packages/emitter --workspace packages/frontend --workspace example \
  && npm cache clean --force

COPY --from=build /app/packages/shared/dist packages/shared/dist
COPY --from=build /app/packages/shared/lua packages/shared/lua
COPY --from=build /app/packages/io-node/dist packages/io-node/dist
COPY --from=build /app/packages/io-node/lua packages/io-node/lua
COPY --from=build /app/packages/app-node/dist packages/app-node/dist
COPY --from=build /app/packages/emitter/dist packages/emitter/dist
COPY --from=build /app/packages/frontend/dist packages/frontend/dist
COPY --from=build /app/packages/frontend/admin packages/frontend/admin
COPY --from=build /app/example/dist example/dist
COPY --from=build /app/example/public example/public

# Uid 1000, as deploy/k8s's runAsUser says; nothing under /app is writable by it.
USER node
EXPOSE 3000 3001 9464
CMD ["node", "packages/frontend/dist/main.js"]
