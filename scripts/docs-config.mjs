// `npm run docs:config`: writes docs/configuration.md from the settings table
// (packages/shared/src/config-rows-*.ts); a unit test fails while the two disagree.
import { writeFileSync } from 'node:fs';
import { renderConfigurationDoc } from '@iocluster/shared';

writeFileSync(new URL('../docs/configuration.md', import.meta.url), renderConfigurationDoc());
