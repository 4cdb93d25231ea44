/** Chat templates (Jinja, as transformers renders them) through `@huggingface/jinja`. */
import { Environment, Interpreter, Template } from '@huggingface/jinja';
import { checkOptionKeys, showValue } from '../../util/show.js';

export type ChatMessage = { role: string; content: string };

/** Tokenizer.applyChatTemplate's options. */
export interface ChatTemplateOptions {
  /** End with the header of the assistant's turn, as a prompt for generation does (default true; transformers' false). */
  addGenerationPrompt?: boolean;
  /** The template's `tools` and `documents` (transformers passes None when not given; so does namm, as null). */
  tools?: unknown[] | null;
  documents?: unknown[] | null;
  /** Further template variables (transformers' extra keyword arguments: `date_string`, `enable_thinking`, …). */
  variables?: Record<string, unknown>;
}

const OPTION_KEYS = ['addGenerationPrompt', 'tools', 'documents', 'variables'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/**
 * Python's `datetime.now().strftime(format)` for the directives chat templates use, with English names whatever
 * the system's locale (Python's C locale; @huggingface/jinja's own took the locale's, "02 Dez 2026" under de_DE for
 * Llama 3.2's date line). Unknown directives stay as written.
 */
export function strftimeEnglish(date: Date, format: string): string {
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const h12 = date.getHours() % 12 || 12;
  const dayOfYear = Math.floor((Date.UTC(date.getFullYear(), date.getMonth(), date.getDate()) - Date.UTC(date.getFullYear(), 0, 1)) / 86_400_000) + 1;
  const values: Record<string, string> = {
    Y: String(date.getFullYear()), y: pad(date.getFullYear() % 100), m: pad(date.getMonth() + 1), d: pad(date.getDate()),
    B: MONTHS[date.getMonth()]!, b: MONTHS[date.getMonth()]!.slice(0, 3), A: DAYS[date.getDay()]!, a: DAYS[date.getDay()]!.slice(0, 3),
    H: pad(date.getHours()), I: pad(h12), M: pad(date.getMinutes()), S: pad(date.getSeconds()), p: date.getHours() < 12 ? 'AM' : 'PM',
    j: pad(dayOfYear, 3), '%': '%',
  };
  return format.replace(/%(.)/g, (all, c: string) => values[c] ?? all);
}

/** Python's range(stop) / range(start, stop[, step]), as Jinja's global. */
function pythonRange(start: number, stop?: number, step = 1): number[] {
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0) throw new Error('range() step must not be zero');
  const out: number[] = [];
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(i);
  return out;
}

type Value = { type: string; value: unknown; toString(): string };
type Filter = (operand: Value, filter: { type: string; value?: unknown }, env: Environment) => Value;
type Block = (statements: unknown[], env: Environment) => Value;

type ValueClasses = { IntegerValue: new (v: number) => Value; StringValue: new (v: string) => Value };
/** The library's value classes, found once (it does not export them): the constructors of values it made. */
let valueClasses: ValueClasses | undefined;
function libraryValueClasses(): ValueClasses {
  const probe = new Environment();
  return {
    IntegerValue: (probe.set('i', 1) as unknown as Value).constructor as ValueClasses['IntegerValue'],
    StringValue: (probe.set('s', '') as unknown as Value).constructor as ValueClasses['StringValue'],
  };
}

/**
 * An Interpreter patched (this instance only, not the library's class) where @huggingface/jinja's output differs
 * from jinja2's, as test/models/golden-chat-templates.test.ts found: a boolean is written True / False (Python's
 * str), not true / false; a string's `length` counts code points, as Python's len (the library counted UTF-16 units,
 * so an emoji was 2); `count`, jinja2's alias of `length`, is known. The runtime classes are not exported: their
 * constructors are taken from values the library made.
 */
function pythonicInterpreter(env: Environment): Interpreter {
  const interpreter = new Interpreter(env);
  const patched = interpreter as unknown as { applyFilter: Filter; evaluateBlock: Block };
  const { IntegerValue, StringValue } = valueClasses ??= libraryValueClasses();
  const applyFilter = patched.applyFilter.bind(interpreter);
  patched.applyFilter = (operand, filter, scope) => {
    if (filter.type === 'Identifier' && (filter.value === 'length' || filter.value === 'count')) {
      if (operand.type === 'StringValue') return new IntegerValue([...(operand.value as string)].length);
      return applyFilter(operand, { ...filter, value: 'length' }, scope);
    }
    return applyFilter(operand, filter, scope);
  };
  patched.evaluateBlock = (statements, scope) => {
    let out = '';
    for (const statement of statements) {
      const v = interpreter.evaluate(statement as Parameters<Interpreter['evaluate']>[0], scope) as unknown as Value;
      if (v.type === 'NullValue' || v.type === 'UndefinedValue') continue;
      out += v.type === 'BooleanValue' ? (v.value ? 'True' : 'False') : v.toString();
    }
    return new StringValue(out);
  };
  return interpreter;
}

/**
 * A chat template with the special-token strings templates refer to. It is compiled at its first use, not when the
 * tokenizer is made, so a template that @huggingface/jinja cannot parse (a `{% with %}` block, valid Jinja it does
 * not support) fails the chat call that needs it, not every load of the model; a named list without a "default"
 * fails there too, as transformers' apply_chat_template does.
 */
export class ChatTemplate {
  private compiled: Template | null = null;

  constructor(private readonly value: unknown, private readonly specials: Record<string, string>, private readonly origin: string) {}

  private template(): Template {
    if (this.compiled) return this.compiled;
    const source = pickChatTemplate(this.value, this.origin);
    try {
      return (this.compiled = new Template(source));
    } catch (err) {
      throw new Error(`${this.origin}: chat_template does not parse (${(err as Error).message})`);
    }
  }

  render(messages: ChatMessage[], options: ChatTemplateOptions = {}): string {
    if (!Array.isArray(messages)) throw new TypeError(`applyChatTemplate: messages must be an array of { role, content }, got ${showValue(messages)}`);
    messages.forEach((m, i) => {
      if (m === null || typeof m !== 'object' || typeof (m as { role?: unknown }).role !== 'string') {
        throw new TypeError(`applyChatTemplate: messages[${i}] must be an object with a string role, got ${showValue(m)}`);
      }
    });
    if (options === null || typeof options !== 'object') throw new TypeError(`applyChatTemplate: options must be an object, got ${showValue(options)}`);
    checkOptionKeys(options, OPTION_KEYS, 'applyChatTemplate');
    const { addGenerationPrompt = true, tools = null, documents = null, variables = {} } = options;
    if (typeof addGenerationPrompt !== 'boolean') throw new TypeError(`applyChatTemplate: addGenerationPrompt must be true or false, got ${showValue(addGenerationPrompt)}`);
    for (const [key, v] of [['tools', tools], ['documents', documents]] as const) {
      if (v !== null && !Array.isArray(v)) throw new TypeError(`applyChatTemplate: ${key} must be an array or null, got ${showValue(v)}`);
    }
    if (variables === null || typeof variables !== 'object' || Array.isArray(variables)) throw new TypeError(`applyChatTemplate: variables must be an object, got ${showValue(variables)}`);
    const template = this.template();
    try {
      // Template.render's environment, built here so that strftime_now can be this module's (the library declares
      // its own among its globals, which a render's variables may not replace): the same globals, then the variables.
      const env = new Environment();
      const scope: Record<string, unknown> = {
        false: false, true: true, none: null, False: false, True: true, None: null, range: pythonRange,
        raise_exception: (message: unknown) => { throw new Error(String(message)); },
        strftime_now: (format: unknown) => strftimeEnglish(new Date(), String(format)),
        ...this.specials, tools, documents, ...variables, messages, add_generation_prompt: addGenerationPrompt,
      };
      for (const [key, v] of Object.entries(scope)) env.set(key, v);
      return pythonicInterpreter(env).run(template.parsed).value as string;
    } catch (err) {
      // raise_exception's message (a refused conversation: "Conversation roles must alternate …") as the template says it.
      throw new Error(`${this.origin}: chat template: ${(err as Error).message}`);
    }
  }
}

/**
 * tokenizer_config.json's `chat_template`: a string, or a list of `{name, template}` from which transformers takes
 * the one named "default" (a list without one is refused: transformers asks which to use).
 */
export function pickChatTemplate(value: unknown, origin: string): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const bad = value.findIndex((v) => v === null || typeof v !== 'object' || typeof v.name !== 'string' || typeof v.template !== 'string');
    if (bad >= 0) throw new Error(`${origin}: chat_template[${bad}] must be a {name, template} pair of strings, got ${showValue(value[bad])}`);
    const found = (value as { name: string; template: string }[]).find((v) => v.name === 'default');
    if (!found) throw new Error(`${origin}: chat_template lists several templates (${value.map((v) => v.name).join(', ')}) and none named "default", so which one to use cannot be told`);
    return found.template;
  }
  throw new Error(`${origin}: chat_template must be a string or a list of {name, template}, got ${showValue(value)}`);
}
