/** `namm policies`: the memory policies, their options and defaults, and the spec grammar. */
import type { Command } from 'commander';
import { describePolicies, listPolicies } from '../memory/spec.js';

export function register(program: Command): void {
  program
    .command('policies')
    .description('list the memory policies that --memory accepts, with their options and defaults')
    .option('--json', 'print them as one JSON array (name, usage, summary, paper, needsAttention, acts, options)')
    .action((o: { json?: boolean }) => {
      process.stdout.write((o.json ? JSON.stringify(listPolicies(), null, 2) : describePolicies()) + '\n');
    });
}
