#!/usr/bin/env node
import { Command } from 'commander';
import { VERSION } from '../config/version.js';
import { registerAudit } from './audit.js';
import { registerBackup } from './backup.js';
import { registerBootstrap } from './bootstrap.js';
import { registerCatalog } from './catalog.js';
import { registerDomains } from './domains.js';
import { registerKeys } from './keys.js';
import { registerMigrate } from './migrate.js';
import { registerServe } from './serve.js';
import { registerSetupLinks } from './setup-links.js';

const program = new Command('tessera')
  .description('Tessera: multi-tenant identity and access management server')
  .version(VERSION)
  .showHelpAfterError()
  .exitOverride((error) => {
    process.exit(error.exitCode === 1 ? 2 : error.exitCode);
  });

registerServe(program);
registerMigrate(program);
registerBootstrap(program);
registerKeys(program);
registerAudit(program);
registerCatalog(program);
registerDomains(program);
registerSetupLinks(program);
registerBackup(program);

await program.parseAsync(process.argv);
