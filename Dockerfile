# One image for every service of docker-compose.yml (frontend, io-node, app-node): the same entry points
# the tests run, built from this repository. The service's `command` picks the process.
FROM node:20-slim

WORKDIR /app

# Manifests first, so the dependency layer is reused while only sources change.
COPY package.json package-lock.json ./
COPY packages/shared/package.json packages/shared/
COPY packages/io-node/package.json packages/io-node/
COPY packages/app-node/package.json packages/app-node/
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

ENV NODE_ENV=production
USER node
EXPOSE 3000 3001 9464
CMD ["node", "packages/frontend/dist/main.js"]
