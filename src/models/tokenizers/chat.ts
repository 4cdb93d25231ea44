/** Chat templates (Jinja, as transformers renders them) through `@huggingface/jinja`. */
import { Environment, Interpreter, Template } from '@huggingface/jinja';
import { checkOptionKeys, showValue } from '../../util/show.js';
import {
  byCodePoint, jinjaIntOfFloat, jinjaIntOfString, jinjaTitle, pythonCapitalize, pythonDiv, pythonFloat, pythonFloorDiv, pythonInt,
  pythonMod, pythonParseFloat, pythonStringRepr, pythonStrip, pythonTitle,
} from './python.js';

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
type Node = {
  type: string; operator?: { value: string }; left?: Node; right?: Node; callee?: Node; value?: unknown; args?: Node[];
  object?: Node; property?: Node; computed?: boolean;
};
type Filter = (operand: Value, filter: Node, env: Environment) => Value;
type Block = (statements: Node[], env: Environment) => Value;
type Binary = (node: Node, env: Environment) => Value;
type Member = (node: Node, env: Environment) => Value;
type Arguments = (args: Node[], env: Environment) => [Value[], Map<string, Value>];

type ValueClasses = {
  IntegerValue: new (v: number) => Value; FloatValue: new (v: number) => Value; BooleanValue: new (v: boolean) => Value;
  StringValue: new (v: string) => Value; ArrayValue: new (v: Value[]) => Value;
  FunctionValue: new (f: (args: Value[], env: Environment) => Value) => Value; UndefinedValue: new () => Value;
};
/** The library's value classes, found once (it does not export them): the constructors of values it made. */
let valueClasses: ValueClasses | undefined;
function libraryValueClasses(): ValueClasses {
  const probe = new Environment();
  const made = (v: unknown) => (v as Value).constructor;
  return {
    IntegerValue: made(probe.set('i', 1)), FloatValue: made(probe.set('f', 0.5)), BooleanValue: made(probe.set('b', true)),
    StringValue: made(probe.set('s', '')), ArrayValue: made(probe.set('a', [])),
    FunctionValue: made(probe.set('fn', () => 0)), UndefinedValue: made(probe.lookupVariable('not defined')),
  } as unknown as ValueClasses;
}

const NUMBERS = new Set(['IntegerValue', 'FloatValue', 'BooleanValue']);
const SEQUENCES = new Set(['ArrayValue', 'TupleValue']);
/**
 * Marks a list the library can unpack (its for-loop unpacks only its lists, not its own tuples) that Python would
 * hold as a tuple: the pairs of `dict.items()`, `| items` and `| dictsort`, printed ('a', 1).
 */
const AS_TUPLE = Symbol('python tuple');
const isTuple = (v: Value) => v.type === 'TupleValue' || (v.type === 'ArrayValue' && (v as { [AS_TUPLE]?: boolean })[AS_TUPLE] === true);

/** Python's name of a value's type, for TypeError's messages. */
function pythonTypeName(v: Value): string {
  return ({
    IntegerValue: 'int', FloatValue: 'float', BooleanValue: 'bool', StringValue: 'str', NullValue: 'NoneType', ArrayValue: 'list',
    TupleValue: 'tuple', ObjectValue: 'dict', UndefinedValue: 'Undefined', FunctionValue: 'function',
  } as Record<string, string>)[isTuple(v) ? 'TupleValue' : v.type] ?? v.type;
}

/** Python's a == b: numbers by value (True == 1 == 1.0), lists, tuples and dicts item by item, a list never a tuple. */
function pythonEquals(a: Value, b: Value): boolean {
  if (NUMBERS.has(a.type) && NUMBERS.has(b.type)) return Number(a.value) === Number(b.value);
  if (a.type !== b.type && !(SEQUENCES.has(a.type) && SEQUENCES.has(b.type))) return false;
  switch (a.type) {
    case 'NullValue': case 'UndefinedValue': return true;
    case 'ArrayValue': case 'TupleValue': {
      const x = a.value as Value[], y = b.value as Value[];
      return isTuple(a) === isTuple(b) && x.length === y.length && x.every((v, i) => pythonEquals(v, y[i]!));
    }
    case 'ObjectValue': {
      const x = a.value as Map<string, Value>, y = b.value as Map<string, Value>;
      return x.size === y.size && [...x].every(([k, v]) => y.has(k) && pythonEquals(v, y.get(k)!));
    }
    default: return a.value === b.value; // strings by value; functions and namespaces by identity
  }
}

/** Python's order (what sorted() asks of a < b): numbers, str by code point, lists and tuples item by item; else TypeError. */
function pythonCompare(a: Value, b: Value): number {
  if (NUMBERS.has(a.type) && NUMBERS.has(b.type)) {
    const x = Number(a.value), y = Number(b.value);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.type === 'StringValue' && b.type === 'StringValue') return byCodePoint(a.value as string, b.value as string);
  if (SEQUENCES.has(a.type) && SEQUENCES.has(b.type) && isTuple(a) === isTuple(b)) {
    const x = a.value as Value[], y = b.value as Value[];
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (!pythonEquals(x[i]!, y[i]!)) return pythonCompare(x[i]!, y[i]!);
    return x.length - y.length;
  }
  throw new TypeError(`'<' not supported between instances of '${pythonTypeName(a)}' and '${pythonTypeName(b)}'`);
}

/** Python's repr of a template value, as it appears inside a printed list or dict. */
function pythonRepr(v: Value): string {
  switch (v.type) {
    case 'StringValue': return pythonStringRepr(v.value as string);
    case 'UndefinedValue': return 'Undefined';
    case 'ArrayValue': case 'TupleValue': {
      const items = (v.value as Value[]).map(pythonRepr);
      if (!isTuple(v)) return `[${items.join(', ')}]`;
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
    case 'IntegerValue': return pythonInt(v.value as number);
    case 'FloatValue': return pythonFloat(v.value as number);
    case 'ArrayValue': case 'TupleValue': case 'ObjectValue': case 'NamespaceValue': return pythonRepr(v);
    default: return v.toString();
  }
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
    case 'IntegerValue': return pythonInt(v.value as number);
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

/** A node standing for a value already evaluated, so that a patched step can hand the library an operand it evaluated once. */
const EVALUATED = 'NammEvaluated';

/**
 * An Interpreter patched (this instance only, not the library's class) where @huggingface/jinja's output differs
 * from jinja2's, as test/models/golden-chat-templates.test.ts found. A value is written as Python's str() writes it,
 * in `{{ x }}`, `x ~ y`, `x | string` and the items `| join` joins: True / False, None (the library wrote nothing for
 * `{{ none }}` and refused none in `~`), ints with every digit (10 ** 21, not 1e+21), floats as Python's repr (1e+20,
 * not 100000000000000000000.0), lists, tuples and dicts as Python's repr ({'a': [1, None]}, not JSON), undefined as
 * nothing (the library refused it in `~`); `dict.items()`, `| items` and `| dictsort` give tuples. `tojson` is
 * json.dumps (floats as Python's, sort_keys by code point, indent=0 breaking lines). A string's `length` counts code
 * points, as Python's len (the library counted UTF-16 units, so an emoji was 2); `count`, jinja2's alias of `length`,
 * is known; `list` makes a list of a string's characters or of a dict's keys; `join` joins a dict's keys and takes
 * `attribute=`; `sort` and `dictsort` order str by code point. The str methods `strip`, `lstrip` and `rstrip` take
 * their characters (the library ignored them: Qwen3's `.lstrip('\n')` took spaces too), `capitalize` and `title`
 * lower the rest as Python's do, and the `title`, `capitalize` and `trim` filters are jinja2's. `==`, `!=`, `in` and
 * `not in` compare as Python (`[1] == [1]`, `none in [none]`, `'1' != 1`); `%` and `//` round as Python (-7 % 3 is 2,
 * 1 // 0.1 is 9.0), a zero divisor fails as Python's ZeroDivisionError; str and list repeat with `*`, and str compare
 * with `<` by code point. `int` truncates (the library floored -1.9 to -2) and reads a str as jinja2 does, `float` too.
 * The runtime classes are not exported: their constructors are taken from values the library made.
 */
function pythonicInterpreter(env: Environment): Interpreter {
  const interpreter = new Interpreter(env);
  const patched = interpreter as unknown as {
    applyFilter: Filter; evaluateBlock: Block; evaluateBinaryExpression: Binary; evaluateMemberExpression: Member;
    evaluateArguments: Arguments; evaluate: (node: Node, scope: Environment) => Value;
  };
  const { IntegerValue, FloatValue, BooleanValue, StringValue, ArrayValue, FunctionValue, UndefinedValue } = valueClasses ??= libraryValueClasses();
  const tuple = (items: Value[]) => Object.assign(new ArrayValue(items), { [AS_TUPLE]: true });
  const evaluateNode = patched.evaluate.bind(interpreter);
  patched.evaluate = (node, scope) => (node?.type === EVALUATED ? node.value as Value : evaluateNode(node, scope));
  const evaluate = (node: Node, scope: Environment) => patched.evaluate(node, scope);
  const evaluated = (value: Value): Node => ({ type: EVALUATED, value });
  /** The items a Python for-loop over the value takes (a string's characters, a dict's keys), or null for another type. */
  const iterated = (v: Value): Value[] | null =>
    SEQUENCES.has(v.type) ? v.value as Value[]
      : v.type === 'StringValue' ? [...(v.value as string)].map((c) => new StringValue(c))
        : v.type === 'ObjectValue' ? [...(v.value as Map<string, Value>).keys()].map((k) => new StringValue(k)) : null;
  const pairs = (v: Value) => new ArrayValue([...(v.value as Map<string, Value>)].map(([k, x]) => tuple([new StringValue(k), x])));
  /** jinja2's attribute lookup of a filter's `attribute=` ("a.b", "0"): a dict's key, a list's index, else undefined. */
  const lookup = (item: Value, path: string): Value => {
    let v = item;
    for (const part of path.split('.')) {
      const next = v.type === 'ObjectValue' && !/^\d+$/.test(part) ? (v.value as Map<string, Value>).get(part)
        : SEQUENCES.has(v.type) && /^\d+$/.test(part) ? (v.value as Value[])[Number(part)] : undefined;
      if (next === undefined) return new UndefinedValue();
      v = next;
    }
    return v;
  };
  /** A filter's or method's arguments by position or name (Python's binding), refusing unknown names and extra ones. */
  const bind = (what: string, names: string[], args: Value[], kwargs: Map<string, Value>): Map<string, Value> => {
    if (args.length > names.length) throw new Error(`${what}() takes at most ${names.length} arguments (${args.length} given)`);
    const given = new Map(args.map((a, i) => [names[i]!, a]));
    for (const [k, a] of kwargs) {
      if (!names.includes(k)) throw new Error(`${what}() got an unexpected keyword argument '${k}'`);
      if (given.has(k)) throw new Error(`${what}() got multiple values for argument '${k}'`);
      given.set(k, a);
    }
    return given;
  };
  const truthy = (v: Value | undefined, fallback: boolean) => (v === undefined ? fallback : v.__bool__().value);
  const lowered = (v: Value) => (v.type === 'StringValue' ? new StringValue((v.value as string).toLowerCase()) : v);
  /** Python's sorted(items, key=..., reverse=...): stable, and reverse keeps equal items in their order, as Python's. */
  const sorted = (items: Value[], key: (v: Value) => Value, reverse: boolean) => {
    const keyed = items.map((v) => ({ v, k: key(v) }));
    keyed.sort((a, b) => (reverse ? -1 : 1) * pythonCompare(a.k, b.k));
    return keyed.map((x) => x.v);
  };
  const stringArgument = (what: string, v: Value | undefined): string | null => {
    if (v === undefined || v.type === 'NullValue') return null;
    if (v.type !== 'StringValue') throw new TypeError(`${what} arg must be None or str`);
    return v.value as string;
  };

  /** The filters done here, by name: each gets the operand and its arguments, or returns undefined for the library's own. */
  const filters: Record<string, (v: Value, args: Value[], kwargs: Map<string, Value>) => Value | undefined> = {
    tojson: (v, args, kwargs) => new StringValue(pythonJson(v, jsonOptions(args, kwargs))),
    string: (v, args, kwargs) => (bind('string', [], args, kwargs), new StringValue(pythonStr(v))),
    length: (v, args, kwargs) => {
      bind('length', [], args, kwargs);
      return v.type === 'StringValue' ? new IntegerValue([...(v.value as string)].length)
        : SEQUENCES.has(v.type) ? new IntegerValue((v.value as Value[]).length)
          : v.type === 'ObjectValue' ? new IntegerValue((v.value as Map<string, Value>).size) : undefined;
    },
    list: (v, args, kwargs) => {
      bind('list', [], args, kwargs);
      // A list is the library's own (itself); a pair from items() becomes a list, as Python's list(('a', 1)).
      const items = v.type === 'ArrayValue' && !isTuple(v) ? null : iterated(v);
      return items ? new ArrayValue(items) : undefined;
    },
    join: (v, args, kwargs) => {
      const items = iterated(v);
      if (!items) return undefined;
      const a = bind('join', ['d', 'attribute'], args, kwargs), attribute = a.get('attribute');
      const parts = attribute === undefined || attribute.type === 'NullValue' ? items : items.map((x) => lookup(x, pythonStr(attribute)));
      return new StringValue(parts.map(pythonStr).join(a.has('d') ? pythonStr(a.get('d')!) : ''));
    },
    sort: (v, args, kwargs) => {
      const items = iterated(v);
      if (!items) return undefined;
      const a = bind('sort', ['reverse', 'case_sensitive', 'attribute'], args, kwargs);
      const attribute = a.get('attribute'), caseSensitive = truthy(a.get('case_sensitive'), false);
      const paths = attribute === undefined || attribute.type === 'NullValue' ? null : pythonStr(attribute).split(',');
      const key = (x: Value): Value => {
        const keys = (paths ?? [null]).map((p) => { const k = p === null ? x : lookup(x, p); return caseSensitive ? k : lowered(k); });
        return keys.length === 1 ? keys[0]! : new ArrayValue(keys);
      };
      return new ArrayValue(sorted(items, key, truthy(a.get('reverse'), false)));
    },
    dictsort: (v, args, kwargs) => {
      if (v.type !== 'ObjectValue') return undefined;
      const a = bind('dictsort', ['case_sensitive', 'by', 'reverse'], args, kwargs);
      const by = a.has('by') ? pythonStr(a.get('by')!) : 'key';
      if (by !== 'key' && by !== 'value') throw new Error('You can only sort by either "key" or "value"');
      const at = by === 'key' ? 0 : 1, caseSensitive = truthy(a.get('case_sensitive'), false);
      const key = (pair: Value) => { const k = (pair.value as Value[])[at]!; return caseSensitive ? k : lowered(k); };
      return new ArrayValue(sorted(pairs(v).value as Value[], key, truthy(a.get('reverse'), false)));
    },
    items: (v, args, kwargs) => {
      bind('items', [], args, kwargs);
      if (v.type === 'UndefinedValue') return new ArrayValue([]);
      if (v.type !== 'ObjectValue') throw new Error('Can only get item pairs from a mapping.');
      return pairs(v);
    },
    trim: (v, args, kwargs) => {
      const chars = stringArgument('trim', bind('trim', ['chars'], args, kwargs).get('chars'));
      return new StringValue(pythonStrip(pythonStr(v), chars, 'both'));
    },
    capitalize: (v, args, kwargs) => (bind('capitalize', [], args, kwargs), new StringValue(pythonCapitalize(pythonStr(v)))),
    title: (v, args, kwargs) => (bind('title', [], args, kwargs), new StringValue(jinjaTitle(pythonStr(v)))),
    int: (v, args, kwargs) => {
      const a = bind('int', ['default', 'base'], args, kwargs), fallback = a.get('default') ?? new IntegerValue(0);
      if (a.has('base') && Number(a.get('base')!.value) !== 10) throw new Error('int filter: only base 10 is supported');
      switch (v.type) {
        case 'IntegerValue': return v;
        case 'BooleanValue': return new IntegerValue(v.value ? 1 : 0);
        case 'FloatValue': return Number.isNaN(v.value) ? fallback : new IntegerValue(jinjaIntOfFloat(v.value as number, 0));
        case 'StringValue': {
          const n = jinjaIntOfString(v.value as string, NaN);
          return Number.isNaN(n) ? fallback : new IntegerValue(n);
        }
        default: return fallback; // int(None), int([]): TypeError, which jinja2 answers with the default
      }
    },
    float: (v, args, kwargs) => {
      const fallback = bind('float', ['default'], args, kwargs).get('default') ?? new FloatValue(0);
      if (NUMBERS.has(v.type)) return new FloatValue(Number(v.value));
      const x = v.type === 'StringValue' ? pythonParseFloat(v.value as string) : null;
      return x === null ? fallback : new FloatValue(x);
    },
  };
  filters.count = filters.length!;
  const applyFilter = patched.applyFilter.bind(interpreter);
  patched.applyFilter = (operand, filter, scope) => {
    const call = filter.type === 'CallExpression';
    const name = filter.type === 'Identifier' ? filter.value as string : call && filter.callee?.type === 'Identifier' ? filter.callee.value as string : undefined;
    const ours = name !== undefined && Object.hasOwn(filters, name) ? filters[name]! : undefined;
    if (ours) {
      const [args, kwargs] = call ? patched.evaluateArguments(filter.args ?? [], scope) : [[], new Map<string, Value>()];
      const out = ours(operand, args, kwargs);
      if (out !== undefined) return out;
      // The library's own, for an operand this filter leaves to it: its arguments, evaluated once, handed over as they are.
      const kwargNodes = [...kwargs].map(([k, v]) => ({ type: 'KeywordArgumentExpression', key: { type: 'Identifier', value: k }, value: evaluated(v) }) as Node);
      // `count` is jinja2's alias of `length`, which the library does not know.
      const named = name === 'count' ? (call ? { ...filter, callee: { ...filter.callee!, value: 'length' } } : { ...filter, value: 'length' }) : filter;
      return applyFilter(operand, call ? { ...named, args: [...args.map(evaluated), ...kwargNodes] } : named, scope);
    }
    return applyFilter(operand, filter, scope);
  };

  /** str methods whose library versions differ from Python's, by name. */
  const stringMethods: Record<string, (s: string, args: Value[]) => string> = {
    strip: (s, args) => pythonStrip(s, stringArgument('strip', bind('strip', ['chars'], args, new Map()).get('chars')), 'both'),
    lstrip: (s, args) => pythonStrip(s, stringArgument('lstrip', bind('lstrip', ['chars'], args, new Map()).get('chars')), 'left'),
    rstrip: (s, args) => pythonStrip(s, stringArgument('rstrip', bind('rstrip', ['chars'], args, new Map()).get('chars')), 'right'),
    capitalize: (s, args) => (bind('capitalize', [], args, new Map()), pythonCapitalize(s)),
    title: (s, args) => (bind('title', [], args, new Map()), pythonTitle(s)),
  };
  const evaluateMember = patched.evaluateMemberExpression.bind(interpreter);
  patched.evaluateMemberExpression = (node, scope) => {
    const name = !node.computed && node.property?.type === 'Identifier' ? node.property.value as string : undefined;
    if (name === undefined || !(Object.hasOwn(stringMethods, name) || name === 'items')) return evaluateMember(node, scope);
    const object = evaluate(node.object!, scope);
    const method = object.type === 'StringValue' && Object.hasOwn(stringMethods, name) ? stringMethods[name]! : undefined;
    if (method) {
      return new FunctionValue((args) => {
        if (args.some((a) => a.type === 'KeywordArgumentsValue')) throw new TypeError(`str.${name}() takes no keyword arguments`);
        return new StringValue(method(object.value as string, args));
      });
    }
    if (name === 'items' && object.type === 'ObjectValue' && !(object.value as Map<string, Value>).has('items')) {
      return new FunctionValue((args) => { bind('items', [], args, new Map()); return pairs(object); });
    }
    return evaluateMember({ ...node, object: evaluated(object) }, scope);
  };

  const evaluateBinaryExpression = patched.evaluateBinaryExpression.bind(interpreter);
  const ours = new Set(['~', '==', '!=', 'in', 'not in', '%', '//', '/', '*', '<', '>', '<=', '>=']);
  patched.evaluateBinaryExpression = (node, scope) => {
    const op = node.operator?.value;
    if (op === undefined || !ours.has(op)) return evaluateBinaryExpression(node, scope);
    const left = evaluate(node.left!, scope), right = evaluate(node.right!, scope);
    const out = pythonBinary(op, left, right);
    return out ?? evaluateBinaryExpression({ ...node, left: evaluated(left), right: evaluated(right) }, scope);
  };
  /** The operators done here, on operands of the types Python gives them; undefined leaves the pair to the library. */
  const pythonBinary = (op: string, a: Value, b: Value): Value | undefined => {
    const float = a.type === 'FloatValue' || b.type === 'FloatValue';
    const numbers = NUMBERS.has(a.type) && NUMBERS.has(b.type);
    const x = Number(a.value), y = Number(b.value);
    switch (op) {
      case '~': return new StringValue(pythonStr(a) + pythonStr(b));
      case '==': return new BooleanValue(pythonEquals(a, b));
      case '!=': return new BooleanValue(!pythonEquals(a, b));
      case 'in': case 'not in': {
        let found: boolean;
        if (SEQUENCES.has(b.type)) found = (b.value as Value[]).some((item) => item === a || pythonEquals(a, item));
        else if (b.type === 'ObjectValue') found = a.type === 'StringValue' && (b.value as Map<string, Value>).has(a.value as string);
        else if (b.type === 'StringValue') {
          if (a.type !== 'StringValue') throw new TypeError(`'in <string>' requires string as left operand, not ${pythonTypeName(a)}`);
          found = (b.value as string).includes(a.value as string);
        } else if (b.type === 'UndefinedValue') found = false;
        else return undefined;
        return new BooleanValue(op === 'in' ? found : !found);
      }
      case '%': return numbers ? (float ? new FloatValue(pythonMod(x, y, true)) : new IntegerValue(pythonMod(x, y, false))) : undefined;
      case '//': return numbers ? (float ? new FloatValue(pythonFloorDiv(x, y, true)) : new IntegerValue(pythonFloorDiv(x, y, false))) : undefined;
      case '/': return numbers ? new FloatValue(pythonDiv(x, y, float)) : undefined;
      case '*': {
        const [seq, times] = b.type === 'IntegerValue' || b.type === 'BooleanValue' ? [a, y] : a.type === 'IntegerValue' || a.type === 'BooleanValue' ? [b, x] : [null, 0];
        if (seq?.type === 'StringValue') return new StringValue((seq.value as string).repeat(Math.max(0, times)));
        if (seq !== null && SEQUENCES.has(seq.type)) {
          const items = Array.from({ length: Math.max(0, times) }, () => seq.value as Value[]).flat();
          return isTuple(seq) ? tuple(items) : new ArrayValue(items);
        }
        return undefined;
      }
      default: { // < > <= >=
        if (a.type !== 'StringValue' || b.type !== 'StringValue') return undefined;
        const c = byCodePoint(a.value as string, b.value as string);
        return new BooleanValue(op === '<' ? c < 0 : op === '>' ? c > 0 : op === '<=' ? c <= 0 : c >= 0);
      }
    }
  };
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
