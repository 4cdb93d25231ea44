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

type Value = { type: string; value: unknown; toString(): string; __bool__(): { value: boolean } };
type Node = { type: string; operator?: { value: string }; left?: Node; right?: Node; callee?: Node; value?: unknown; args?: Node[] };
type Filter = (operand: Value, filter: Node, env: Environment) => Value;
type Block = (statements: Node[], env: Environment) => Value;
type Binary = (node: Node, env: Environment) => Value;
type Arguments = (args: Node[], env: Environment) => [Value[], Map<string, Value>];

type ValueClasses = { IntegerValue: new (v: number) => Value; StringValue: new (v: string) => Value; ArrayValue: new (v: Value[]) => Value };
/** The library's value classes, found once (it does not export them): the constructors of values it made. */
let valueClasses: ValueClasses | undefined;
function libraryValueClasses(): ValueClasses {
  const probe = new Environment();
  return {
    IntegerValue: (probe.set('i', 1) as unknown as Value).constructor as ValueClasses['IntegerValue'],
    StringValue: (probe.set('s', '') as unknown as Value).constructor as ValueClasses['StringValue'],
    ArrayValue: (probe.set('a', []) as unknown as Value).constructor as ValueClasses['ArrayValue'],
  };
}

/**
 * Python's repr of a float, which str() and json.dumps write too: the shortest digits that read back as the same
 * number (as JavaScript's), in positional form from 1e-4 up to 1e16 with at least one decimal ("1.0", "0.0001",
 * "1000000000000000.0"), in exponent form outside it, the exponent signed and of two digits at least ("1e+20", "1e-05").
 */
function pythonFloat(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (Object.is(x, -0)) return '-0.0';
  const sign = x < 0 ? '-' : '';
  const [mantissa, exponent] = Math.abs(x).toExponential().split('e') as [string, string];
  const e = Number(exponent), digits = mantissa.replace('.', '');
  if (e < -4 || e >= 16) return `${sign}${mantissa}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  if (e < 0) return `${sign}0.${'0'.repeat(-e - 1)}${digits}`;
  return `${sign}${digits.slice(0, e + 1).padEnd(e + 1, '0')}.${digits.slice(e + 1) || '0'}`;
}

/** Characters Python's repr escapes (str.isprintable is false): controls, format, separators, surrogates, private use, unassigned. */
const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

/** Python's repr of a str: single quotes unless it holds ' and no ", backslash escapes for what is not printable. */
function pythonStringRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    if (ch === quote || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch !== ' ' && NOT_PRINTABLE.test(ch)) {
      const c = ch.codePointAt(0)!;
      out += c < 0x100 ? `\\x${c.toString(16).padStart(2, '0')}` : c < 0x10000 ? `\\u${c.toString(16).padStart(4, '0')}` : `\\U${c.toString(16).padStart(8, '0')}`;
    } else out += ch;
  }
  return out + quote;
}

/** Python's repr of a template value, as it appears inside a printed list or dict. */
function pythonRepr(v: Value): string {
  switch (v.type) {
    case 'StringValue': return pythonStringRepr(v.value as string);
    case 'UndefinedValue': return 'Undefined';
    case 'ArrayValue': return `[${(v.value as Value[]).map(pythonRepr).join(', ')}]`;
    case 'TupleValue': {
      const items = (v.value as Value[]).map(pythonRepr);
      return items.length === 1 ? `(${items[0]},)` : `(${items.join(', ')})`;
    }
    case 'ObjectValue': return `{${[...(v.value as Map<string, Value>)].map(([k, x]) => `${pythonStringRepr(k)}: ${pythonRepr(x)}`).join(', ')}}`;
    case 'NamespaceValue': return `<Namespace ${pythonRepr({ ...v, type: 'ObjectValue' })}>`;
    default: return pythonStr(v);
  }
}

/** Python's str of a template value, as jinja2 writes `{{ x }}`, `x ~ y`, `x | string` and the items of `| join`. */
function pythonStr(v: Value): string {
  switch (v.type) {
    case 'StringValue': return v.value as string;
    case 'UndefinedValue': return '';
    case 'NullValue': return 'None';
    case 'BooleanValue': return v.value ? 'True' : 'False';
    case 'FloatValue': return pythonFloat(v.value as number);
    case 'ArrayValue': case 'TupleValue': case 'ObjectValue': case 'NamespaceValue': return pythonRepr(v);
    default: return v.toString();
  }
}

/** Code-point order (Python's for str), not UTF-16 order (JavaScript's sort) nor the locale's (the library's sort_keys). */
function byCodePoint(a: string, b: string): number {
  const x = [...a], y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

type JsonOptions = { ensureAscii: boolean; indent: string | null; separators: [string, string]; sortKeys: boolean };

/**
 * json.dumps of a template value, as transformers' tojson filter calls it: floats as Python writes them (1.0, 1e+20),
 * keys sorted by code point, an indent of 0 still breaking lines. Undefined is written null (as the library did;
 * json.dumps would refuse it).
 */
function pythonJson(v: Value, o: JsonOptions, depth = 0): string {
  let open: string, close: string, items: string[];
  switch (v.type) {
    case 'NullValue': case 'UndefinedValue': return 'null';
    case 'BooleanValue': return v.value ? 'true' : 'false';
    case 'IntegerValue': return String(v.value);
    case 'FloatValue': {
      const x = v.value as number;
      return Number.isNaN(x) ? 'NaN' : Number.isFinite(x) ? pythonFloat(x) : x > 0 ? 'Infinity' : '-Infinity';
    }
    case 'StringValue': {
      const s = JSON.stringify(v.value);
      return o.ensureAscii ? s.replace(/[^ -~]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : s;
    }
    case 'ArrayValue': case 'TupleValue':
      [open, close, items] = ['[', ']', (v.value as Value[]).map((x) => pythonJson(x, o, depth + 1))];
      break;
    case 'ObjectValue': case 'NamespaceValue': {
      let entries = [...(v.value as Map<string, Value>)];
      if (o.sortKeys) entries = entries.sort(([a], [b]) => byCodePoint(a, b));
      [open, close] = ['{', '}'];
      items = entries.map(([k, x]) => `${pythonJson({ type: 'StringValue', value: k } as Value, o)}${o.separators[1]}${pythonJson(x, o, depth + 1)}`);
      break;
    }
    default: throw new Error(`Object of type ${v.type} is not JSON serializable`);
  }
  if (items.length === 0) return open + close;
  if (o.indent === null) return open + items.join(o.separators[0]) + close;
  const inner = `\n${o.indent.repeat(depth + 1)}`;
  return `${open}${inner}${items.join(o.separators[0] + inner)}\n${o.indent.repeat(depth)}${close}`;
}

/** transformers' tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False), arguments by position or name. */
function jsonOptions(args: Value[], kwargs: Map<string, Value>): JsonOptions {
  const names = ['ensure_ascii', 'indent', 'separators', 'sort_keys'];
  if (args.length > names.length) throw new Error(`tojson() takes at most ${names.length} arguments (${args.length} given)`);
  const given = new Map(args.map((a, i) => [names[i]!, a]));
  for (const [k, a] of kwargs) {
    if (!names.includes(k)) throw new Error(`tojson() got an unexpected keyword argument '${k}'`);
    given.set(k, a);
  }
  const indent = given.get('indent'), separators = given.get('separators');
  let indentText: string | null = null;
  if (indent !== undefined && indent.type !== 'NullValue') {
    if (indent.type === 'IntegerValue') indentText = ' '.repeat(Math.max(0, indent.value as number));
    else if (indent.type === 'StringValue') indentText = indent.value as string;
    else throw new Error(`tojson: indent must be an integer, a string or none, got ${indent.type}`);
  }
  let seps: [string, string] = indentText === null ? [', ', ': '] : [',', ': '];
  if (separators !== undefined && separators.type !== 'NullValue') {
    const pair = separators.value as Value[];
    if (!Array.isArray(pair) || pair.length !== 2 || pair.some((x) => x.type !== 'StringValue')) throw new Error('tojson: separators must be a pair of strings');
    seps = [pair[0]!.value as string, pair[1]!.value as string];
  }
  const flag = (name: string) => given.get(name)?.__bool__().value ?? false;
  return { ensureAscii: flag('ensure_ascii'), indent: indentText, separators: seps, sortKeys: flag('sort_keys') };
}

/** Statement nodes: what they give is their text, or nothing ({% set %} gives the library's null); not an expression's value. */
const STATEMENTS = new Set(['If', 'For', 'Set', 'Macro', 'Comment', 'CallStatement', 'FilterStatement', 'Break', 'Continue']);

/**
 * An Interpreter patched (this instance only, not the library's class) where @huggingface/jinja's output differs
 * from jinja2's, as test/models/golden-chat-templates.test.ts found. A value is written as Python's str() writes it,
 * in `{{ x }}`, `x ~ y`, `x | string` and the items `| join` joins: True / False, None (the library wrote nothing for
 * `{{ none }}` and refused none in `~`), floats as Python's repr (1e+20, not 100000000000000000000.0), lists, tuples
 * and dicts as Python's repr ({'a': [1, None]}, not JSON), undefined as nothing (the library refused it in `~`).
 * `tojson` is json.dumps (floats as Python's, sort_keys by code point, indent=0 breaking lines). A string's `length`
 * counts code points, as Python's len (the library counted UTF-16 units, so an emoji was 2); `count`, jinja2's alias
 * of `length`, is known; `list` makes a list of a string's characters or of a dict's keys; `join` joins a dict's keys.
 * The runtime classes are not exported: their constructors are taken from values the library made.
 */
function pythonicInterpreter(env: Environment): Interpreter {
  const interpreter = new Interpreter(env);
  const patched = interpreter as unknown as { applyFilter: Filter; evaluateBlock: Block; evaluateBinaryExpression: Binary; evaluateArguments: Arguments };
  const { IntegerValue, StringValue, ArrayValue } = valueClasses ??= libraryValueClasses();
  const evaluate = (node: Node, scope: Environment) => interpreter.evaluate(node as Parameters<Interpreter['evaluate']>[0], scope) as unknown as Value;
  /** The items a Python for-loop over the value takes (a string's characters, a dict's keys), or null for another type. */
  const iterated = (v: Value): Value[] | null =>
    v.type === 'ArrayValue' || v.type === 'TupleValue' ? v.value as Value[]
      : v.type === 'StringValue' ? [...(v.value as string)].map((c) => new StringValue(c))
        : v.type === 'ObjectValue' ? [...(v.value as Map<string, Value>).keys()].map((k) => new StringValue(k)) : null;
  const applyFilter = patched.applyFilter.bind(interpreter);
  patched.applyFilter = (operand, filter, scope) => {
    const name = filter.type === 'Identifier' ? filter.value : filter.type === 'CallExpression' && filter.callee?.type === 'Identifier' ? filter.callee.value : undefined;
    if (name === 'tojson') {
      const [args, kwargs] = filter.type === 'CallExpression' ? patched.evaluateArguments(filter.args ?? [], scope) : [[], new Map<string, Value>()];
      return new StringValue(pythonJson(operand, jsonOptions(args, kwargs)));
    }
    if (name === 'join') {
      const items = iterated(operand);
      if (items) return applyFilter(new ArrayValue(items.map((x) => new StringValue(pythonStr(x)))), filter, scope);
    }
    if (filter.type === 'Identifier') {
      if (name === 'string') return new StringValue(pythonStr(operand));
      if (name === 'list' && operand.type !== 'ArrayValue') {
        const items = iterated(operand);
        if (items) return new ArrayValue(items);
      }
      if (name === 'length' || name === 'count') {
        if (operand.type === 'StringValue') return new IntegerValue([...(operand.value as string)].length);
        return applyFilter(operand, { ...filter, value: 'length' }, scope);
      }
    }
    return applyFilter(operand, filter, scope);
  };
  const evaluateBinaryExpression = patched.evaluateBinaryExpression.bind(interpreter);
  patched.evaluateBinaryExpression = (node, scope) =>
    node.operator?.value === '~' ? new StringValue(pythonStr(evaluate(node.left!, scope)) + pythonStr(evaluate(node.right!, scope))) : evaluateBinaryExpression(node, scope);
  patched.evaluateBlock = (statements, scope) => {
    let out = '';
    for (const statement of statements) {
      const v = evaluate(statement, scope);
      if (!STATEMENTS.has(statement.type)) out += pythonStr(v);
      else if (v.type !== 'NullValue' && v.type !== 'UndefinedValue') out += v.toString();
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
