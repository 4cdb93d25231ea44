/** `namm policies`: the memory policies, their options and defaults, and the spec grammar. */
import type { Command } from 'commander';
import { describePolicies } from '../memory/spec.js';

export function register(program: Command): void {
  program
    .command('policies')
    .description('list the memory policies that --memory accepts, with their options and defaults')
    .action(() => { process.stdout.write(describePolicies() + '\n'); });
}
