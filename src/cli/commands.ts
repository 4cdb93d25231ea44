/** Every subcommand of `namm`, in help order. */
import type { Command } from 'commander';
import { register as generate } from './generate.js';
import { register as demo } from './demo.js';
import { register as evaluate } from './eval.js';
import { register as perplexity } from './perplexity.js';
import { register as convert } from './convert.js';
import { register as policies } from './policies.js';
import { register as nammFile } from './namm-file.js';
import { register as tasks } from './tasks.js';
import { register as train } from './train.js';
import { register as evolve } from './evolve.js';

export const commands: ((program: Command) => void)[] = [demo, generate, evaluate, perplexity, tasks, train, evolve, convert, policies, nammFile];
