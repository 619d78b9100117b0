import type { Command } from 'commander';
import { Presets, SingleBar } from 'cli-progress';
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from '../config/config.schema.js';
import { EXIT_USAGE, runCommand, withServices } from './context.js';

interface RotateOptions {
  alg?: string;
  signing: boolean;
}

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('signing keys and the master key');
  keys
    .command('rotate')
    .description(
      'add a new signing key (the old one stays published until its tokens expire); with TESSERA_MASTER_KEY_PREVIOUS set, first re-wrap every data key under the new TESSERA_MASTER_KEY',
    )
    .option('--alg <alg>', `algorithm of the new signing key (${SIGNING_ALGORITHMS.join(', ')}; default TESSERA_SIGNING_ALG)`)
    .option('--no-signing', 'only re-wrap under the new master key; keep the current signing key')
    .action((options: RotateOptions) =>
      runCommand(async () => {
        if (options.alg && !SIGNING_ALGORITHMS.includes(options.alg as SigningAlgorithm)) {
          process.stderr.write(`--alg must be one of ${SIGNING_ALGORITHMS.join(', ')}\n`);
          process.exitCode = EXIT_USAGE;
          return;
        }
        await withServices(async (services, { config, masterKeys }) => {
          if (masterKeys.previous) {
            const bar = process.stderr.isTTY ? new SingleBar({ format: 're-wrapping keys [{bar}] {value}/{total}' }, Presets.shades_classic) : undefined;
            let started = false;
            const report = await services.keys.rewrapAll((done, total) => {
              if (bar && !started) {
                bar.start(total, 0);
                started = true;
              }
              bar?.update(done);
            });
            bar?.stop();
            process.stdout.write(
              `re-wrapped ${report.dataKeys} tenant data key(s) and ${report.signingKeys} signing key(s) under the new master key (${report.alreadyCurrent} already current). TESSERA_MASTER_KEY_PREVIOUS can now be removed.\n`,
            );
          }
          if (options.signing) {
            const rotated = await services.keys.rotateSigningKey((options.alg as SigningAlgorithm | undefined) ?? config.signingAlg);
            process.stdout.write(
              `new signing key ${rotated.kid} (${rotated.alg}) is current; the previous key stays in the JWKS for ${config.accessTokenTtlSeconds + 60} s. Running servers pick it up within 30 s.\n`,
            );
          }
        });
      }),
    );
}
