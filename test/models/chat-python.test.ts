/**
 * Chat templates where Python raises: namm's renderer fails there too, with Python's message (the golden fixture
 * holds only what jinja2 renders or a TemplateError, not Python's own exceptions), and the helpers behind the
 * arithmetic against values worked out by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatTemplate } from '../../src/models/tokenizers/chat.js';
import { jinjaIntOfString, jinjaTitle, pythonFloorDiv, pythonInt, pythonMod, pythonStrip, pythonTitle } from '../../src/models/tokenizers/python.js';

const render = (source: string, variables: Record<string, unknown> = {}) => new ChatTemplate(source, {}, 't').render([], { variables });

test('chat templates fail where Python raises, with its message', () => {
  const fails = (source: string, message: RegExp) => assert.throws(() => render(source), message, source);
  fails('{{ 1 / 0 }}', /^Error: t: chat template: division by zero$/);
  fails('{{ 1.5 / 0 }}', /chat template: float division by zero$/);
  fails('{{ 1 // 0 }}', /chat template: integer division or modulo by zero$/);
  fails('{{ 1.0 // 0 }}', /chat template: float floor division by zero$/);
  fails('{{ 1 % 0 }}', /chat template: integer modulo by zero$/);
  fails('{{ 1.0 % 0 }}', /chat template: float modulo$/);
  fails("{{ 1 in 'abc' }}", /chat template: 'in <string>' requires string as left operand, not int$/);
  fails("{{ [1, 'a'] | sort }}", /chat template: '<' not supported between instances of '(str|int)' and '(int|str)'$/);
  fails('{{ [none, none] | sort }}', /'<' not supported between instances of 'NoneType' and 'NoneType'/);
  fails("{{ 'x'.strip(chars='x') }}", /chat template: str\.strip\(\) takes no keyword arguments$/);
  fails("{{ 'x'.strip('a', 'b') }}", /chat template: strip\(\) takes at most 1 arguments \(2 given\)$/);
  fails("{{ 'x' | trim(3) }}", /chat template: trim arg must be None or str$/);
  fails("{{ 'x' | join(', ', 'a', 'b') }}", /join\(\) takes at most 2 arguments \(3 given\)/);
  fails("{{ [1] | sort(reversed=true) }}", /sort\(\) got an unexpected keyword argument 'reversed'/);
  fails("{{ {'a': 1} | dictsort(by='size') }}", /You can only sort by either "key" or "value"/);
  fails("{{ [1] | items }}", /Can only get item pairs from a mapping\./);
  fails("{{ 'ff' | int(base=16) }}", /int filter: only base 10 is supported/);
  fails("{{ 'inf' | int }}", /cannot convert float infinity to integer/);
  // Where Python gives a value, so does namm (what the library gave instead: 1/0 rendered inf, -7 % 3 was -1).
  assert.equal(render("{{ 'nan' | int }} {{ 'nan' | int(5) }} {{ undefined_thing | items | list }}"), '0 5 []');
});

test('Python arithmetic and str helpers, against values worked out by hand', () => {
  // x % y takes the divisor's sign; x // y floors (float: CPython's fmod-based quotient, 1 // 0.1 = 9 since fmod(1, 0.1) ≈ 0.1).
  assert.deepEqual([pythonMod(-7, 3, false), pythonMod(7, -3, false), pythonMod(-7.5, 2, true), pythonMod(6, 3, false)], [2, -2, 0.5, 0]);
  assert.ok(Object.is(pythonMod(6, -3, true), -0), 'a zero remainder takes the sign of the divisor');
  assert.deepEqual([pythonFloorDiv(-7, 2, false), pythonFloorDiv(7, -2, false), pythonFloorDiv(1, 0.1, true), pythonFloorDiv(-7, 2, true)], [-4, -4, 9, -4]);
  assert.ok(Object.is(pythonFloorDiv(0, -1, true), -0));
  assert.equal(pythonFloorDiv(9007199254740991, 2, false), 4503599627370495, 'exact for every safe integer');
  assert.deepEqual([pythonInt(1e21), pythonInt(2 ** 70), pythonInt(-1e22), pythonInt(42)], ['1000000000000000000000', '1180591620717411303424', '-10000000000000000000000', '42']);
  assert.deepEqual([pythonStrip('\x1c\x85 a \ufeff', null, 'both'), pythonStrip('xxhixx', 'x', 'left'), pythonStrip('😀a😀', '😀', 'both')], ['a \ufeff', 'hixx', 'a']);
  assert.deepEqual([pythonTitle("they're a-b_c"), pythonTitle('ΟΔΟΣ ΟΔΟΣ'), pythonTitle('ǆemal')], ["They'Re A-B_C", 'Οδος Οδος', 'ǅemal']);
  assert.deepEqual([jinjaTitle("they're a-b_c (x"), jinjaTitle('HELLO wORLD')], ["They're A-B_c (X", 'Hello World']);
  assert.deepEqual([jinjaIntOfString(' 1_000 ', 0), jinjaIntOfString('-3.9', 0), jinjaIntOfString('1e3', 0), jinjaIntOfString('12abc', 7), jinjaIntOfString('1__0', 7)], [1000, -3, 1000, 7, 7]);
});
