/** Every subcommand of `namm`, in help order. */
import type { Command } from 'commander';
import { register as generate } from './generate.js';

export const commands: ((program: Command) => void)[] = [generate];
