import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Runs a container's `sh -c` script with `node` replaced by a script that prints `$IO_NODE_PUBLIC_URL`
 * and its arguments (and `hostname`, when `hostnameOutput` is given, by one that prints that): what the
 * script would start, without starting it.
 */
export function runShellCommand(
  script: string,
  vars: Record<string, string>,
  hostnameOutput?: string,
): string {
  const bin = mkdtempSync(join(tmpdir(), 'k8s-cmd-'));
  try {
    writeFileSync(join(bin, 'node'), '#!/bin/sh\necho "$IO_NODE_PUBLIC_URL $*"\n');
    chmodSync(join(bin, 'node'), 0o755);
    if (hostnameOutput !== undefined) {
      writeFileSync(join(bin, 'hostname'), `#!/bin/sh\necho "${hostnameOutput}"\n`);
      chmodSync(join(bin, 'hostname'), 0o755);
    }
    const run = spawnSync('sh', ['-c', script], {
      env: { PATH: `${bin}:/usr/bin:/bin`, ...vars },
      encoding: 'utf8',
    });
    if (run.status !== 0) throw new Error(`sh -c failed: ${run.stderr}`);
    return run.stdout.trim();
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
}
