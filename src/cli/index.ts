#!/usr/bin/env node
import { Command } from 'commander';
import { VERSION } from '../config/version.js';

type Register = (program: Command) => void;

/**
 * Every command's module, in the order `--help` lists them, loaded only when it is needed: a command's module
 * brings what the command runs (the database, and for most the whole app, about 1 s of CPU to import), so a
 * command line loads the module of the command it names and no other. `--help`, a command line naming none and an
 * unknown command (commander suggests the nearest) load them all, so the help and the errors are as before.
 */
const COMMANDS: ReadonlyArray<readonly [names: readonly string[], load: () => Promise<Register>]> = [
  [['serve'], async () => (await import('./serve.js')).registerServe],
  [['migrate'], async () => (await import('./migrate.js')).registerMigrate],
  [['bootstrap'], async () => (await import('./bootstrap.js')).registerBootstrap],
  [['keys'], async () => (await import('./keys.js')).registerKeys],
  [['audit'], async () => (await import('./audit.js')).registerAudit],
  [['catalog'], async () => (await import('./catalog.js')).registerCatalog],
  [['domains'], async () => (await import('./domains.js')).registerDomains],
  [['setup-link'], async () => (await import('./setup-links.js')).registerSetupLinks],
  [['backup', 'restore'], async () => (await import('./backup.js')).registerBackup],
];

const program = new Command('tessera')
  .description('Tessera: multi-tenant identity and access management server')
  .version(VERSION)
  .showHelpAfterError()
  .exitOverride((error) => {
    process.exit(error.exitCode === 1 ? 2 : error.exitCode);
  });

// The program's own options (--version, --help) take no value, so the first argument that is not an option names
// the command. `tessera --version` alone needs no command at all.
// A help flag before the command name (`tessera --help serve`) asks for the program's help, which lists every command.
const args = process.argv.slice(2);
const namedAt = args.findIndex((arg) => !arg.startsWith('-'));
const named = namedAt === -1 ? undefined : args[namedAt];
const programHelp = args.slice(0, namedAt === -1 ? args.length : namedAt).some((arg) => arg === '-h' || arg === '--help');
const versionOnly = args.length === 1 && (args[0] === '-V' || args[0] === '--version');
const known = COMMANDS.find(([names]) => named !== undefined && names.includes(named));
const wanted = versionOnly ? [] : known && !programHelp ? [known] : COMMANDS;
for (const register of await Promise.all(wanted.map(([, load]) => load()))) register(program);

await program.parseAsync(process.argv);
