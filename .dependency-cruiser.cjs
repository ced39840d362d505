/** Architecture rules from ../shared/DESIGN.md: shared imports nothing of ours, io-node and app-node never import each other, devkit (tooling) and the packages never import each other, the example uses public entry points only. */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'shared-is-a-leaf',
      severity: 'error',
      from: { path: '^packages/shared/' },
      to: { path: '^packages/(io-node|app-node|emitter|frontend|client)/' },
    },
    {
      name: 'devkit-is-tooling',
      comment: 'packages/devkit starts processes by their entry points; it never imports the packages.',
      severity: 'error',
      from: { path: '^packages/devkit/' },
      to: { path: '^packages/(shared|io-node|app-node|emitter|frontend|client)/' },
    },
    {
      name: 'no-devkit-in-packages',
      comment: 'Development tooling stays out of what runs in production.',
      severity: 'error',
      from: { path: '^packages/(shared|io-node|app-node|emitter|frontend|client)/' },
      to: { path: '^packages/devkit/' },
    },
    {
      name: 'io-node-not-app-node',
      severity: 'error',
      from: { path: '^packages/io-node/' },
      to: { path: '^packages/(app-node|frontend)/' },
    },
    {
      name: 'app-node-not-io-node',
      severity: 'error',
      from: { path: '^packages/app-node/' },
      to: { path: '^packages/(io-node|frontend)/' },
    },
    {
      name: 'no-deep-imports-across-packages',
      comment:
        'Other packages are reached through their public entries (src/index.ts, and shared/src/protocol.ts: the client protocol, dependency-free) only.',
      severity: 'error',
      from: { path: '^(packages/([^/]+)|example)/' },
      to: {
        path: '^packages/([^/]+)/src/(?!index\\.ts$)',
        pathNot: ['^packages/$2/', '^packages/shared/src/protocol\\.ts$'],
      },
    },
    {
      name: 'protocol-imports-nothing',
      comment: 'The client protocol runs in browsers: it imports nothing, of ours or of anyone.',
      severity: 'error',
      from: { path: '^packages/shared/src/protocol\\.ts$' },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    combinedDependencies: true,
    enhancedResolveOptions: { conditionNames: ['source', 'import', 'default'], exportsFields: ['exports'] },
    tsConfig: { fileName: 'tsconfig.base.json' },
  },
};
