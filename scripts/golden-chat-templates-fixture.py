#!/usr/bin/env python3
"""Writes test/fixtures/golden-chat-templates.json: chat templates written for this fixture (none copied from a
model), each rendered on a few conversations by Python's jinja2 in the environment transformers' apply_chat_template
builds (transformers/utils/chat_template_utils.py, 5.x): an ImmutableSandboxedEnvironment with trim_blocks and
lstrip_blocks, the loopcontrols extension and a `{% generation %}` tag, the globals raise_exception (a TemplateError
with the given message) and strftime_now, and a tojson filter that is json.dumps with ensure_ascii=False (indent,
separators and sort_keys passed through). The variables are those apply_chat_template passes: messages, tools and
documents (None when not given), add_generation_prompt, the special tokens (bos_token, eos_token, ...), then any
extra keyword arguments.

The templates exercise what real chat templates use: loops with loop.first/last/index, role checks that raise,
system-message handling, namespace() counters, whitespace control with trim_blocks/lstrip_blocks, string methods,
filters (tojson with non-ASCII and indent, join, default, first/last, selectattr/map, ...), tests (defined, none,
string, mapping), slicing, tools and tool calls, content given as a list of parts, macros and loop controls; and
values that are not strings written out as Python writes them (str and repr: True, None, 1e+20, {'a': [1, None]})
through {{ }}, ~, |string and |join, |list of a string, and tojson as json.dumps writes floats and sorts keys.
strftime_now is left out: its output depends on the clock.

test/models/golden-chat-templates.test.ts renders each case with namm's ChatTemplate (@huggingface/jinja, patched)
and compares the strings exactly; a case that raises here must raise there, a TemplateError with the same message.
CI has no Python: the fixture is committed.

Usage: python3 scripts/golden-chat-templates-fixture.py (needs jinja2 >= 3.1; written with 3.1.6). Deterministic.
"""
import json
import os
from datetime import datetime

import jinja2
import jinja2.exceptions
import jinja2.ext
import jinja2.nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', 'test', 'fixtures', 'golden-chat-templates.json')

SPECIALS = {
    'bos_token': '<s>', 'eos_token': '</s>', 'unk_token': '<unk>', 'pad_token': '<pad>',
    'sep_token': '', 'cls_token': '', 'mask_token': '',
}


class Generation(jinja2.ext.Extension):
    """`{% generation %}…{% endgeneration %}`: transformers' AssistantTracker, which renders its body unchanged."""
    tags = {'generation'}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(['name:endgeneration'], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method('_body'), [], [], body).set_lineno(lineno)

    def _body(self, caller):
        return caller()


def make_env():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[Generation, jinja2.ext.loopcontrols])
    env.filters['tojson'] = tojson
    env.globals['raise_exception'] = raise_exception
    env.globals['strftime_now'] = lambda fmt: datetime.now().strftime(fmt)
    return env


# ---- conversations -------------------------------------------------------------------------------------------------
U = lambda c: {'role': 'user', 'content': c}  # noqa: E731
A = lambda c: {'role': 'assistant', 'content': c}  # noqa: E731
S = lambda c: {'role': 'system', 'content': c}  # noqa: E731

SIMPLE = [U('Hello there!')]
MULTI = [U('What is the capital of France?'), A('Paris.'), U('And of Japan?')]
WITH_SYSTEM = [S('You are a terse assistant.'), U('Name a colour.'), A('Blue.'), U('Another one?')]
NON_ASCII = [S('Réponds en français, s\'il te plaît.'), U('Ça va? 東京は晴れ 🌤️ — “quotes” & <tags>'), A('Très bien 👍🏽 Ελληνικά'), U('Merci! 👩‍💻')]
EMPTY = [U(''), A(''), U('   padded   ')]
BAD_ROLE = [U('hi'), {'role': 'narrator', 'content': 'Once upon a time'}]
NOT_ALTERNATING = [U('one'), U('two')]
WHITESPACE = [S('  sys with spaces  \n'), U('\n\nline one\nline two\n'), A('\tanswer\t')]

TOOLS = [
    {'type': 'function', 'function': {
        'name': 'get_weather', 'description': 'Current weather in a city — °C',
        'parameters': {'type': 'object', 'properties': {
            'city': {'type': 'string', 'description': 'City name, e.g. Zürich'},
            'unit': {'type': 'string', 'enum': ['celsius', 'fahrenheit']}}, 'required': ['city']}}},
    {'type': 'function', 'function': {
        'name': 'add', 'description': 'Adds two numbers',
        'parameters': {'type': 'object', 'properties': {'a': {'type': 'number'}, 'b': {'type': 'integer'}}, 'required': ['a', 'b']}}},
]
TOOL_CALLS = [
    S('You can call tools.'),
    U('Weather in Zürich, and 2 + 3.5?'),
    {'role': 'assistant', 'content': '', 'tool_calls': [
        {'id': 'call_1', 'type': 'function', 'function': {'name': 'get_weather', 'arguments': {'city': 'Zürich', 'unit': 'celsius'}}},
        {'id': 'call_2', 'type': 'function', 'function': {'name': 'add', 'arguments': {'a': 2, 'b': 3.5, 'flag': True, 'none': None, 'list': [1, 'x']}}}]},
    {'role': 'tool', 'tool_call_id': 'call_1', 'name': 'get_weather', 'content': '{"temp": 21, "sky": "☀️"}'},
    {'role': 'tool', 'tool_call_id': 'call_2', 'name': 'add', 'content': '5.5'},
    A('It is 21 °C and sunny; 2 + 3.5 = 5.5.'),
]
TOOL_CALLS_STRING_ARGS = [
    U('Add 1 and 2'),
    {'role': 'assistant', 'content': None, 'tool_calls': [
        {'type': 'function', 'function': {'name': 'add', 'arguments': '{"a": 1, "b": 2}'}}]},
    {'role': 'tool', 'content': '3'},
]
PARTS = [
    S([{'type': 'text', 'text': 'System as parts.'}]),
    U([{'type': 'text', 'text': 'Look at this:'}, {'type': 'image'}, {'type': 'text', 'text': 'What is it? 🐕'}]),
    A([{'type': 'text', 'text': 'A dog.'}]),
    U('Plain string again.'),
]
ODD_CHARACTERS = [U('del\x7f nul\x00 bell\x07 nbsp\xa0 zwsp\u200b ls\u2028 private\ue000 tag\U000E0001 back\\slash \'quote\' "dq"')]
THINKING = [U('2+2?'), A('<think>\nsimple sum\n</think>\n\n4'), U('And 3+3?')]
DOCUMENTS = [{'title': 'Lighthouse', 'text': 'The lamp turns every 30 seconds.'}, {'title': 'Café', 'text': 'Crème brûlée costs €4.50.'}]


def conv(name, messages, **extra):
    return dict(name=name, messages=messages, **extra)


# ---- templates (written for this fixture) -------------------------------------------------------------------------
TEMPLATES = []


def template(name, note, source, conversations):
    TEMPLATES.append(dict(name=name, note=note, template=source, conversations=conversations))


template('basic-roles', 'loop over messages, {%- -%} control, raise_exception on an unknown role, bos/eos', (
    "{{- bos_token -}}\n"
    "{%- for message in messages -%}\n"
    "    {%- if message['role'] == 'user' -%}\n"
    "        {{- '[USER] ' + message['content'] + '\\n' -}}\n"
    "    {%- elif message['role'] == 'assistant' -%}\n"
    "        {{- '[BOT] ' + message['content'] + eos_token + '\\n' -}}\n"
    "    {%- elif message['role'] == 'system' -%}\n"
    "        {{- '[SYS] ' + message['content'] + '\\n' -}}\n"
    "    {%- else -%}\n"
    "        {{- raise_exception('Unknown role: ' + message['role']) -}}\n"
    "    {%- endif -%}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}{{- '[BOT] ' -}}{%- endif -%}\n"
), [conv('simple', SIMPLE), conv('multi', MULTI), conv('non-ascii', NON_ASCII), conv('bad-role', BAD_ROLE)])

template('trim-lstrip-blocks', 'no dashes at all: trim_blocks and lstrip_blocks shape the whitespace', (
    "{% for message in messages %}\n"
    "    {% if loop.first %}\n"
    "<start>\n"
    "    {% endif %}\n"
    "<|{{ message.role }}|>\n"
    "{{ message.content }}\n"
    "    {% if not loop.last %}\n"
    "---\n"
    "    {% endif %}\n"
    "{% endfor %}\n"
    "{% if add_generation_prompt %}\n"
    "<|assistant|>\n"
    "{% endif %}"
), [conv('simple', SIMPLE), conv('multi', MULTI), conv('whitespace', WHITESPACE)])

template('system-first', 'system message taken from messages[0], the rest from messages[1:]', (
    "{%- if messages[0]['role'] == 'system' -%}\n"
    "    {%- set system_message = messages[0]['content'] -%}\n"
    "    {%- set loop_messages = messages[1:] -%}\n"
    "{%- else -%}\n"
    "    {%- set system_message = 'You are a helpful assistant.' -%}\n"
    "    {%- set loop_messages = messages -%}\n"
    "{%- endif -%}\n"
    "<<SYS>>{{ system_message }}<</SYS>>\n"
    "{% for message in loop_messages %}\n"
    "{{ loop.index }}. {{ message['role'] }}: {{ message['content'] }}\n"
    "{% endfor %}\n"
    "{% if add_generation_prompt %}{{ loop_messages | length + 1 }}. assistant:{% endif %}"
), [conv('no-system', MULTI), conv('system', WITH_SYSTEM), conv('non-ascii', NON_ASCII)])

template('alternation', 'roles must alternate user/assistant (loop.index0 % 2), raising otherwise', (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}"
    "{% if message['role'] == 'user' %}"
    "{{ '[INST] ' + message['content'] | trim + ' [/INST]' }}"
    "{% else %}"
    "{{ ' ' + message['content'] | trim + eos_token }}"
    "{% endif %}"
    "{% endfor %}"
), [conv('multi', MULTI), conv('empty', EMPTY), conv('not-alternating', NOT_ALTERNATING), conv('system-refused', WITH_SYSTEM)])

template('namespace-counters', 'namespace() counters and the index of the last user message', (
    "{%- set ns = namespace(users=0, assistants=0, last_user=-1, chars=0) -%}\n"
    "{%- for m in messages -%}\n"
    "    {%- if m.role == 'user' -%}\n"
    "        {%- set ns.users = ns.users + 1 -%}\n"
    "        {%- set ns.last_user = loop.index0 -%}\n"
    "    {%- elif m.role == 'assistant' -%}\n"
    "        {%- set ns.assistants = ns.assistants + 1 -%}\n"
    "    {%- endif -%}\n"
    "    {%- set ns.chars = ns.chars + m.content | length -%}\n"
    "{%- endfor -%}\n"
    "users={{ ns.users }} assistants={{ ns.assistants }} last_user={{ ns.last_user }} chars={{ ns.chars }}\n"
    "{% for m in messages %}\n"
    "{% if loop.index0 == ns.last_user %}>>> {% endif %}{{ m.role }}: {{ m.content }}\n"
    "{% endfor %}\n"
    "{%- if add_generation_prompt %}>>> assistant:{% endif %}"
), [conv('multi', MULTI), conv('system', WITH_SYSTEM), conv('non-ascii', NON_ASCII)])

template('string-methods', 'strip, lstrip, rstrip, split, startswith, endswith, upper, lower, title, capitalize, replace', (
    "{%- for m in messages -%}\n"
    "{{ m.role | upper }}/{{ m.role.title() }}/{{ m.role.capitalize() }}: [{{ m.content.strip() }}]"
    " l=[{{ m.content.lstrip() }}] r=[{{ m.content.rstrip() }}]"
    " words={{ m.content.split() | length }}"
    " first={{ (m.content.split(' ') | first) }}"
    " q={{ m.content.endswith('?') }} h={{ m.content.startswith('H') }}"
    " {{ m.content.replace('a', '@').lower() }}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt %}\nASSISTANT:{% endif %}"
), [conv('multi', MULTI), conv('whitespace', WHITESPACE), conv('non-ascii', NON_ASCII)])

template('filters', 'trim, length, join, default, first/last, selectattr/map, list, reverse, unique-free usage', (
    "roles: {{ messages | map(attribute='role') | join(', ') }}\n"
    "users: {{ messages | selectattr('role', 'equalto', 'user') | list | length }}\n"
    "not-users: {{ messages | rejectattr('role', 'equalto', 'user') | map(attribute='role') | join('|') }}\n"
    "first: {{ (messages | first).content | trim }}\n"
    "last: {{ (messages | last)['content'] | trim }}\n"
    "reversed: {{ messages | map(attribute='role') | reverse | join(' ') }}\n"
    "name: {{ assistant_name | default('Assistant') }}\n"
    "count: {{ messages | count }}\n"
    "{% if add_generation_prompt %}{{ assistant_name | default('Assistant') }}:{% endif %}"
), [conv('multi', MULTI), conv('system-named', WITH_SYSTEM, variables={'assistant_name': 'Robo'}), conv('non-ascii', NON_ASCII)])

template('tojson', 'tojson of strings, numbers, mappings and lists: non-ASCII kept, indent, sort_keys', (
    "{%- for m in messages -%}\n"
    "{{ m | tojson }}\n"
    "{{ m.content | tojson }}\n"
    "{%- endfor %}\n"
    "{{ messages[-1] | tojson(indent=2) }}\n"
    "{{ {'z': 1, 'a': [1.5, none, true, false], 'é': '\u00e9'} | tojson(sort_keys=true) }}\n"
    "{{ [] | tojson(indent=4) }}{{ {} | tojson(indent=4) }}\n"
    "{% if add_generation_prompt %}<gen>{% endif %}"
), [conv('simple', SIMPLE), conv('non-ascii', NON_ASCII), conv('empty', EMPTY)])

template('tests', 'is defined / is none / is string / is mapping / is iterable / is number on messages and variables', (
    "{%- for m in messages -%}\n"
    "{{ m.role }}: string={{ m.content is string }} mapping={{ m is mapping }} none={{ m.content is none }}"
    " iterable={{ m.content is iterable }} calls={{ m.tool_calls is defined }} name={{ m.name is defined }}\n"
    "{%- endfor %}\n"
    "tools={{ tools is none }} documents={{ documents is none }} custom={{ custom is defined }} n={{ 3 is number }}"
    " odd={{ 3 is odd }} even={{ 4 is even }} not-none={{ bos_token is not none }}\n"
    "{% if add_generation_prompt is true %}gen{% elif add_generation_prompt is false %}no-gen{% endif %}"
), [conv('multi', MULTI), conv('tool-calls', TOOL_CALLS_STRING_ARGS), conv('parts', PARTS, variables={'custom': 1})])

template('slicing', 'messages[1:], [::-1], [-1], [:2], string slices', (
    "tail:{% for m in messages[1:] %} {{ m.role }}{% endfor %}\n"
    "back:{% for m in messages[::-1] %} {{ m.content[:4] }}{% endfor %}\n"
    "last: {{ messages[-1].content[-3:] }}\n"
    "head:{% for m in messages[:2] %} {{ m.role[0] }}{% endfor %}\n"
    "every-other:{% for m in messages[::2] %} {{ loop.index }}{% endfor %}\n"
    "{% if add_generation_prompt %}[gen]{% endif %}"
), [conv('multi', MULTI), conv('system', WITH_SYSTEM), conv('non-ascii', NON_ASCII)])

template('content-parts', 'content as a string or a list of {type: text} / {type: image} parts', (
    "{%- for message in messages -%}\n"
    "<{{ message.role }}>\n"
    "{%- if message.content is string -%}\n"
    "{{ message.content }}\n"
    "{%- else -%}\n"
    "{%- for part in message.content -%}\n"
    "{%- if part.type == 'text' -%}{{ part.text }}{%- elif part.type == 'image' -%}<image>{%- endif -%}\n"
    "{%- if not loop.last %} {% endif -%}\n"
    "{%- endfor -%}\n"
    "{%- endif -%}\n"
    "</{{ message.role }}>\n"
    "{% endfor -%}\n"
    "{%- if add_generation_prompt -%}<assistant>{%- endif -%}"
), [conv('parts', PARTS), conv('strings', MULTI)])

template('tools-json', 'tool definitions rendered with tojson in a system block; tool calls and tool results', (
    "{%- if tools -%}\n"
    "<tools>\n"
    "{% for tool in tools %}\n"
    "{{ tool | tojson }}\n"
    "{% endfor %}\n"
    "</tools>\n"
    "{% endif %}\n"
    "{%- for message in messages -%}\n"
    "{%- if message.role == 'assistant' and message.tool_calls is defined -%}\n"
    "<assistant>{{ message.content }}\n"
    "{%- for call in message.tool_calls -%}\n"
    "<call>{{ {'name': call.function.name, 'arguments': call.function.arguments} | tojson }}</call>\n"
    "{%- endfor -%}\n"
    "</assistant>\n"
    "{% elif message.role == 'tool' -%}\n"
    "<result name=\"{{ message.name }}\" id=\"{{ message.tool_call_id }}\">{{ message.content }}</result>\n"
    "{% else -%}\n"
    "<{{ message.role }}>{{ message.content }}</{{ message.role }}>\n"
    "{% endif -%}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}<assistant>{%- endif -%}"
), [conv('tool-calls', TOOL_CALLS, tools=TOOLS), conv('no-tools', MULTI), conv('tools-only', SIMPLE, tools=TOOLS)])

template('tool-args-string-or-mapping', 'arguments given as a JSON string or as a mapping, content None', (
    "{%- for message in messages -%}\n"
    "{{ message.role }}:"
    "{%- if message.content is not none %} {{ message.content }}{% endif %}\n"
    "{%- if message.tool_calls -%}\n"
    "{%- for tc in message.tool_calls %}\n"
    "  call {{ tc.function.name }}(\n"
    "{%- if tc.function.arguments is string -%}{{ tc.function.arguments }}{%- else -%}{{ tc.function.arguments | tojson }}{%- endif -%}\n"
    ")\n"
    "{%- endfor -%}\n"
    "{%- endif %}\n"
    "\n"
    "{% endfor -%}\n"
    "{%- if add_generation_prompt %}assistant:{% endif %}"
), [conv('string-args', TOOL_CALLS_STRING_ARGS), conv('mapping-args', TOOL_CALLS, tools=TOOLS)])

template('tools-indent', 'tools pretty-printed with tojson(indent=4) and the parameters iterated with items()', (
    "{%- if tools is not none -%}\n"
    "Functions:\n"
    "{% for tool in tools %}\n"
    "{% set fn = tool.function if tool.function is defined else tool %}\n"
    "## {{ fn.name }}: {{ fn.description }}\n"
    "{% for pname, pdef in fn.parameters.properties.items() %}\n"
    "- {{ pname }} ({{ pdef.type }}){% if pname in fn.parameters.required %} required{% endif %}"
    "{% if pdef.enum is defined %} one of {{ pdef.enum | join('/') }}{% endif %}\n"
    "{% endfor %}\n"
    "{{ fn.parameters | tojson(indent=4) }}\n"
    "{% endfor %}\n"
    "{% endif %}\n"
    "{% for m in messages %}{{ m.role }}> {{ m.content }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant> {% endif %}"
), [conv('tools', SIMPLE, tools=TOOLS), conv('no-tools', MULTI)])

template('loop-controls', 'break and continue (loopcontrols), loop.length, loop.revindex', (
    "{% for m in messages %}\n"
    "{% if m.role == 'system' %}{% continue %}{% endif %}\n"
    "{% if m.content == 'STOP' %}{% break %}{% endif %}\n"
    "{{ loop.index }}/{{ loop.length }} (rev {{ loop.revindex0 }}) {{ m.role }}: {{ m.content }}\n"
    "{% endfor %}\n"
    "{% if add_generation_prompt %}assistant:{% endif %}"
), [conv('system', WITH_SYSTEM), conv('stop', [U('go'), A('ok'), U('STOP'), A('never shown')])])

template('macros', 'a macro called per message, with a default argument', (
    "{%- macro turn(role, text, end='<|end|>') -%}\n"
    "<|{{ role }}|>{{ text }}{{ end }}\n"
    "{%- endmacro -%}\n"
    "{%- for m in messages -%}\n"
    "{%- if m.role == 'assistant' -%}{{ turn(m.role, m.content, eos_token) }}{%- else -%}{{ turn(m.role, m.content) }}{%- endif %}\n"
    "\n"
    "{% endfor -%}\n"
    "{%- if add_generation_prompt -%}<|assistant|>{%- endif -%}"
), [conv('multi', MULTI), conv('non-ascii', NON_ASCII)])

template('set-block-and-concat', '{% set %} blocks, ~ and + concatenation, inline if/else', (
    "{%- set sep -%}\n"
    "  ==>  \n"
    "{%- endset -%}\n"
    "{%- for m in messages -%}\n"
    "{{ m.role ~ sep ~ (m.content if m.content else '(empty)') ~ ('' if loop.last else '\\n') }}\n"
    "{%- endfor -%}\n"
    "{{ ('\\n' ~ 'assistant' ~ sep) if add_generation_prompt else '' }}"
), [conv('multi', MULTI), conv('empty', EMPTY)])

template('dict-access', 'get() with a default, keys(), items(), the in operator on mappings and strings', (
    "{%- for m in messages -%}\n"
    "{{ m.get('role') }} name={{ m.get('name', 'anon') }} keys={{ m.keys() | list | sort | join(',') }}"
    " has-call={{ 'tool_calls' in m }} question={{ '?' in (m.content or '') }}\n"
    "{% endfor -%}\n"
    "{%- for k, v in {'b': 2, 'a': 1}.items() %}{{ k }}={{ v }};{% endfor %}\n"
    "{% if add_generation_prompt %}gen{% endif %}"
), [conv('multi', MULTI), conv('tools', TOOL_CALLS, tools=TOOLS)])

template('thinking', 'reasoning stripped from earlier turns with split/lstrip; enable_thinking as an extra variable', (
    "{%- set ns = namespace(last_query=0) -%}\n"
    "{%- for m in messages %}{% if m.role == 'user' %}{% set ns.last_query = loop.index0 %}{% endif %}{% endfor -%}\n"
    "{%- for m in messages -%}\n"
    "{%- set content = m.content -%}\n"
    "{%- if m.role == 'assistant' and '</think>' in content -%}\n"
    "{%- set reasoning = content.split('</think>')[0].split('<think>')[-1].strip('\\n') -%}\n"
    "{%- set content = content.split('</think>')[-1].lstrip('\\n') -%}\n"
    "{%- if loop.index0 > ns.last_query -%}{%- set content = '<think>\\n' + reasoning + '\\n</think>\\n\\n' + content -%}{%- endif -%}\n"
    "{%- endif -%}\n"
    "<|im_start|>{{ m.role }}\n{{ content }}<|im_end|>\n"
    "{% endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "<|im_start|>assistant\n"
    "{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n{% endif %}\n"
    "{%- endif -%}"
), [conv('thinking', THINKING), conv('no-thinking', THINKING, variables={'enable_thinking': False}),
    conv('last-turn-reasoning', [U('q'), A('<think>why</think>answer')], variables={'enable_thinking': True})])

template('documents', 'documents (RAG) passed as `documents`, numbered with loop.index', (
    "{%- if documents -%}\n"
    "<documents>\n"
    "{% for doc in documents %}\n"
    "[{{ loop.index }}] {{ doc.title }}: {{ doc.text }}\n"
    "{% endfor %}\n"
    "</documents>\n"
    "{% else -%}\n"
    "(no documents)\n"
    "{% endif -%}\n"
    "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
), [conv('documents', SIMPLE, documents=DOCUMENTS), conv('none', MULTI)])

template('arithmetic', 'integer arithmetic on loop indices: //, %, *, -, comparisons, range()', (
    "{% for m in messages %}\n"
    "{{ loop.index0 // 2 }}.{{ loop.index0 % 2 }} x{{ loop.index * 3 - 1 }}{% if loop.index > 2 %} late{% endif %}: {{ m.role }}\n"
    "{% endfor %}\n"
    "{% for i in range(messages | length) %}{{ i }}{% if not loop.last %},{% endif %}{% endfor %}\n"
    "{% for i in range(1, 7, 2) %}{{ i }}{% endfor %}\n"
    "{% if add_generation_prompt %}gen{% endif %}"
), [conv('multi', MULTI), conv('system', WITH_SYSTEM)])

template('raise-conditions', 'raise_exception on a system message out of place, on tools, and on an empty conversation', (
    "{%- if messages | length == 0 -%}{{ raise_exception('No messages given') }}{%- endif -%}\n"
    "{%- if tools -%}{{ raise_exception('This template does not support tools') }}{%- endif -%}\n"
    "{%- for m in messages -%}\n"
    "{%- if m.role == 'system' and not loop.first -%}\n"
    "{{ raise_exception('System message must be first, found at ' ~ loop.index0) }}\n"
    "{%- endif -%}\n"
    "{{ m.role[:1] | upper }}: {{ m.content }}\n"
    "{% endfor -%}\n"
    "{%- if add_generation_prompt %}A:{% endif %}"
), [conv('ok', WITH_SYSTEM), conv('late-system', [U('hi'), S('late')]), conv('tools', SIMPLE, tools=TOOLS), conv('empty', [])])

template('generation-tag', '{% generation %} around the assistant turns (rendered as its body)', (
    "{%- for m in messages -%}\n"
    "{%- if m.role == 'assistant' -%}\n"
    "<|assistant|>\n"
    "{% generation %}{{ m.content }}{{ eos_token }}{% endgeneration %}\n"
    "\n"
    "{% else -%}\n"
    "<|{{ m.role }}|>\n"
    "{{ m.content }}\n"
    "{% endif -%}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt %}<|assistant|>\n{% endif %}"
), [conv('multi', MULTI), conv('non-ascii', NON_ASCII)])

template('special-tokens', 'every special token variable, and unk/pad/sep with an empty one', (
    "{{ bos_token }}|{{ eos_token }}|{{ unk_token }}|{{ pad_token }}|[{{ sep_token }}]|{{ sep_token | length }}\n"
    "{% for m in messages %}{{ bos_token if loop.first else '' }}{{ m.content }}{{ eos_token if m.role == 'assistant' else '' }}{% endfor %}\n"
    "{% if add_generation_prompt %}{{ bos_token }}{% endif %}"
), [conv('multi', MULTI), conv('simple', SIMPLE)])

template('escapes-and-quotes', 'string literals with escapes, double quotes, and content that looks like Jinja', (
    "{%- for m in messages -%}\n"
    "{{ \"<\" + m.role + \">\\t\" }}{{ m.content | replace('\\n', '\\\\n') }}{{ '\\n' }}\n"
    "{%- endfor -%}\n"
    "{{- \"it's \\\"quoted\\\"\" if add_generation_prompt else 'no \\'gen\\'' -}}"
), [conv('jinja-looking', [U('{{ not a tag }} {% neither %}\nnew line'), A('a\\b')]), conv('whitespace', WHITESPACE)])

template('llama-style-header', 'header per role with a system default, eos after every turn, lstrip_blocks inside ifs', (
    "{{- bos_token }}\n"
    "{%- if messages[0].role == 'system' %}\n"
    "    {%- set system = messages[0].content | trim %}\n"
    "    {%- set rest = messages[1:] %}\n"
    "{%- else %}\n"
    "    {%- set system = '' %}\n"
    "    {%- set rest = messages %}\n"
    "{%- endif %}\n"
    "{%- if system %}\n"
    "    {{- '<|header|>system<|/header|>\\n\\n' + system + '<|eot|>' }}\n"
    "{%- endif %}\n"
    "{%- for message in rest %}\n"
    "    {{- '<|header|>' + message.role + '<|/header|>\\n\\n' + message.content | trim + '<|eot|>' }}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|header|>assistant<|/header|>\\n\\n' }}\n"
    "{%- endif %}\n"
), [conv('system', WITH_SYSTEM), conv('no-system', MULTI), conv('non-ascii', NON_ASCII), conv('empty', EMPTY)])


# ---- Python's str() and repr() where a template prints a value that is not a string -------------------------------
template('python-str-scalars', "booleans, None, integers and floats printed, joined with ~ and through |string, as Python's str()", (
    "{{ true ~ '|' ~ false ~ '|' ~ none ~ '|' ~ 42 ~ '|' ~ -7 ~ '|' ~ 1.0 ~ '|' ~ 0.1 ~ '|' ~ (10.0 ** 20) ~ '|' ~ (10.0 ** 16)"
    " ~ '|' ~ (10.0 ** 15) ~ '|' ~ (1 / 3) ~ '|' ~ 0.00001 ~ '|' ~ (0.5 - 1) ~ '|' ~ (10 ** 20) }}\n"
    "{{ (10.0 ** 300) * (10.0 ** 10) }} {{ -(10.0 ** 300) * (10.0 ** 10) }} {{ (10.0 ** 300) * (10.0 ** 10) - (10.0 ** 300) * (10.0 ** 10) }} {{ -0.0 }}"
    " {{ [(10.0 ** 300) * (10.0 ** 10), -0.0] | tojson }}\n"
    "{{ true | string }} {{ false | string }} {{ none | string }} {{ 42 | string }} {{ 2.5 | string }} {{ (10.0 ** 20) | string }}\n"
    "{{ none }} {{ true }} {{ false }} {{ 1.0 }} {{ 0.0001 }} {{ 4 / 2 }} {{ 10.0 ** 16 }} {{ 2.0 ** -20 }} {{ 7 // 2 }}\n"
    "[{{ not_given }}] [{{ not_given ~ 'x' }}] [{{ not_given | string }}] [{{ messages[0].not_a_key }}]\n"
    "{% for m in messages %}{{ loop.first ~ ':' ~ (m.content is string) ~ ':' ~ m.content }} {{ m.get('name') }} {{ m.content is none }}\n{% endfor %}"
    "{{ 'generation prompt: ' ~ add_generation_prompt }}"
), [conv('multi', MULTI), conv('string-args', TOOL_CALLS_STRING_ARGS)])

template('python-repr-containers', "dicts and lists printed as Python's repr ({'a': 1}, [1, 'x', None, True]), nested, "
         "through |string and ~, with quotes, escapes and non-ASCII in their strings", (
    "{{ {'a': 1} }} {{ [1, 'x', none, true, 2.5] }} {{ {'a': [1, {'b': none}], 'c': \"d'e\", 'f': [], 'g': {}} }}\n"
    "{{ [1, 2] | string }} {{ {'k': false} | string }} {{ 'list: ' ~ [1, 'x'] }} {{ {'k': 1.0} ~ ' (dict)' }}\n"
    "{{ ['it\\'s', 'say \"hi\"', 'both \\' \"', 'tab\\tnew\\nline\\\\', '\\u00a0nbsp'] }} {{ (1, 'a') }} {{ [(1, 2)] }}\n"
    "{% for m in messages %}\n"
    "{{ m }}\n"
    "{% if m.tool_calls is defined %}calls: {{ m.tool_calls | map(attribute='function') | map(attribute='arguments') | list }}\n{% endif %}\n"
    "{% endfor %}\n"
    "{% if add_generation_prompt %}{{ messages | length }} messages: {{ messages | map(attribute='role') | list }}{% endif %}"
), [conv('non-ascii', NON_ASCII), conv('tool-calls', TOOL_CALLS, tools=TOOLS), conv('parts', PARTS), conv('odd-characters', ODD_CHARACTERS)])

template('join-and-list', '|join of mixed lists and of a mapping (its keys), |list of a string and of a mapping', (
    "{{ [1, 'x', none, true, 2.5, [3, 'y'], {'k': 'v'}] | join(', ') }}\n"
    "{{ [1, 2, 3] | join }} {{ {'a': 1, 'b': 2} | join('-') }} {{ 'abc' | join('.') }}\n"
    "{{ 'abc' | list }} {{ 'h\u00e9llo \U0001F600' | list | length }} {{ ('abc' | list)[1] }} {{ {'a': 1, 'b': 2} | list }}\n"
    "{% for m in messages %}{{ (m.content | list)[:3] | join('.') }} {{ m.keys() | join('+') }} {{ m.content | list | length }}\n{% endfor %}"
    "{% if add_generation_prompt %}{{ [add_generation_prompt, none] | join(' and ') }}{% endif %}"
), [conv('multi', MULTI), conv('non-ascii', NON_ASCII)])

template('tojson-python', "tojson as json.dumps writes it: sort_keys by code point, floats (1.0, 1e+20), indent=0, separators, "
         "ensure_ascii", (
    "{{ {'z': 1, '\u00e9': 2, 'a': 3, 'Z': 4, '_': 5, '\u6771': 6, '\U0001F600': 7, '\uff01': 8} | tojson(sort_keys=true) }}\n"
    "{{ [1.0, 2.5, 10.0 ** 20, 0.1, 1 / 3, 0.00001, -0.5] | tojson }}\n"
    "{{ {'b': [1, {}], 'a': []} | tojson(indent=0) }}\n"
    "{{ {'b': 1, 'a': [1, 2]} | tojson(separators=(',', ':'), sort_keys=true) }}\n"
    "{{ messages[-1] | tojson(ensure_ascii=true) }}\n"
    "{{ messages | tojson(indent=2, sort_keys=true) }}\n"
    "{% if add_generation_prompt %}{{ {'gen': add_generation_prompt, 'none': none} | tojson(indent='\\t') }}{% endif %}"
), [conv('non-ascii', NON_ASCII), conv('tool-calls', TOOL_CALLS, tools=TOOLS)])

template('items-pairs', "the pairs of dict.items() printed: tuples in Python, ('a', 1)", (
    "{{ {'a': 1, 'b': none}.items() | list }}\n"
    "{% for m in messages %}{% for pair in m.items() %}{{ pair }} {% endfor %}\n{% endfor %}"
    "{% if add_generation_prompt %}gen{% endif %}"
), [conv('simple', SIMPLE)])

template('float-power', "a float to a negative power: Python's pow, correctly rounded (10.0 ** -5 is 1e-05)", (
    "{{ 10.0 ** -5 }} {{ 2 ** -1 }}\n"
    "{% if add_generation_prompt %}gen{% endif %}"
), [conv('simple', SIMPLE)])

template('float-literals', 'float literals with an exponent (1e20, 2.5e-3), as jinja2 reads them', (
    "{{ 1e20 }} {{ 2.5e-3 }} {{ 1E3 }}\n"
    "{% if add_generation_prompt %}gen{% endif %}"
), [conv('simple', SIMPLE)])


# ---- Python's str methods, arithmetic, comparisons and the filters whose JavaScript namesakes differ ---------------
REASONING = [U('Hi'), A('<think>\nI should greet.\n</think>\n\n  Hello  '), U('  again\n')]
ODD_SPACE = [U('\x1c\x85 odd space \u3000'), A('\ufeffnot space in Python\ufeff')]
ROWS = {'rows': [{'a': 2, 'b': {'c': 'x'}}, {'a': 1.5, 'b': {'c': 'y'}}, {'a': 3, 'b': None}],
        'words': ['b', 'B', 'a', '\U0001F600', '\uff5e', 'A']}

template('python-str-methods', "strip/lstrip/rstrip with characters (Qwen3's reasoning split), capitalize and title as "
         "Python's str methods, and jinja2's title, capitalize and trim filters", (
    "{{ 'xxhixx'.strip('x') }}|{{ 'abcba'.strip('ab') }}|{{ 'ab\\n\\n'.rstrip('\\n') }}|{{ '  x  '.strip() }}|{{ 'xy'.lstrip('') }}\n"
    "{{ 'hello WORLD'.capitalize() }} {{ 'HELLO wORLD'.title() }} {{ \"a-b_c d 3x they're\".title() }} {{ 'ΟΔΟΣ ΟΔΟΣ'.title() }} {{ 'ßa'.capitalize() }}\n"
    "{{ 'hello WORLD' | capitalize }} {{ 'HELLO wORLD' | title }} {{ \"a-b_c d (x) [y] <z> they're\" | title }} [{{ '  xyx  ' | trim }}] {{ 'xxhixx' | trim('x') }} {{ 'hi' | trim(chars='h') }}\n"
    "{% for m in messages %}\n"
    "{% set content = m.content %}\n"
    "{% if '</think>' in content %}\n"
    "{% set reasoning = content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}\n"
    "{% set content = content.split('</think>')[-1].lstrip('\\n') %}\n"
    "[{{ reasoning }}]\n"
    "{% endif %}\n"
    "{{ m.role | capitalize }}: <{{ content }}> <{{ content.strip() }}> <{{ content | trim }}> <{{ content.rstrip() }}>\n"
    "{% endfor %}\n"
    "{% if add_generation_prompt %}{{ 'assistant' | title }}:{% endif %}"
), [conv('reasoning', REASONING), conv('odd-space', ODD_SPACE)])

template('python-arithmetic', "%, // and / as Python computes them, ints written with every digit, int and float "
         "filters, * repeating str and lists, str compared by code point", (
    "{{ -7 % 3 }} {{ 7 % -3 }} {{ -7.5 % 2 }} {{ 7.5 % -2 }} {{ 1 // 0.1 }} {{ -7 // 2 }} {{ 7 // -2 }} {{ -7.0 // 2 }} {{ 0.0 // -1 }} {{ 4 / 2 }} {{ 1 / 3 }}\n"
    "{{ 10 ** 21 }} {{ 2 ** 70 }} {{ (2 ** 70) | tojson }} {{ [10 ** 21] }} {{ 'x' ~ 10 ** 22 }} {{ (10 ** 21) | string }}\n"
    "{{ (-1.9) | int }} {{ 1.9 | int }} {{ '12' | int }} {{ ' 42 ' | int }} {{ '1_000' | int }} {{ '12.7' | int }} {{ '-3.9' | int }}"
    " {{ 'abc' | int }} {{ 'abc' | int(7) }} {{ '1e3' | int }} {{ none | int }} {{ true | int }} {{ '12abc' | int }}\n"
    "{{ '2.5' | float }} {{ ' 1e3 ' | float }} {{ '12abc' | float }} {{ 'inf' | float }} {{ 3 | float }} {{ 'x' | float(1.5) }}\n"
    "{{ '-' * 3 }} {{ 3 * 'ab' }} {{ [1, 'a'] * 2 }} [{{ 'a' * 0 }}] {{ 'abc' < 'abd' }} {{ 'b' > 'a' }} {{ 'é' > 'z' }} {{ '😀' > '～' }} {{ 'a' <= 'a' }}\n"
    "{% for m in messages %}{{ loop.index0 % 2 }}{{ '=' * loop.index }} {% endfor %}\n"
    "{% if add_generation_prompt %}gen{% endif %}"
), [conv('multi', MULTI)])

template('python-equality-in', "== and in as Python compares: None, True == 1, lists and dicts by value, a str never "
         "equal to an int, undefined", (
    "{{ none in [none] }} {{ true in [1] }} {{ 1 in [1.0] }} {{ {'a': 1} in [{'a': 1}] }} {{ [1, 2] == [1, 2] }}"
    " {{ {'a': [1]} == {'a': [1]} }} {{ '1' == 1 }} {{ '1' != 1 }} {{ not_given == none }} {{ 'a' in {'a': 1} }}"
    " {{ 'b' not in {'a': 1} }} {{ 'ell' in 'hello' }} {{ 'x' in not_given }} {{ (1, 2) == [1, 2] }} {{ [1, 2] != [1, 3] }}\n"
    "{% for m in messages %}{{ m.role in ['user', 'system'] }} {{ m == messages[loop.index0] }} {{ m.get('name') == none }} {{ m.content == none }}\n{% endfor %}"
    "{% if add_generation_prompt %}gen{% endif %}"
), [conv('multi', MULTI), conv('string-args', TOOL_CALLS_STRING_ARGS)])

template('filter-arguments', "join with attribute= and d=, sort and dictsort by code point (case-insensitive by default, "
         "stable under reverse), dict pairs as tuples, and the call forms string(), list(), length(), count()", (
    "{{ rows | join(', ', attribute='a') }} {{ rows | join(d='-') }} [{{ rows | join('/', attribute='b.c') }}] {{ rows | map(attribute='a') | join(d=';') }}\n"
    "{{ words | sort }} {{ words | sort(reverse=true) }} {{ words | sort(case_sensitive=true) }} {{ 'cab' | sort }}\n"
    "{{ rows | sort(attribute='a') | map(attribute='a') | list }} {{ rows | sort(attribute='a', reverse=true) | map(attribute='a') | list }}\n"
    "{{ {'b': 1, 'B': 2, 'a': 3, '😀': 0, '～': 4} | dictsort }} {{ {'b': 1, 'a': 3} | dictsort(by='value', reverse=true) }} {{ {'x': 1} | items | list }}\n"
    "{% for k, v in {'z': 1, 'y': 2} | dictsort %}{{ k }}={{ v }};{% endfor %} {% for k, v in {'z': 1, 'y': 2}.items() %}{{ k }}={{ v }};{% endfor %}\n"
    "{{ true | string() }} {{ [1, none] | string() }} {{ 'ab' | list() }} {{ 'ab' | length() }} {{ [1, 2] | count() }} {{ 'héllo' | count }}\n"
    "{% if add_generation_prompt %}gen{% endif %}"
), [conv('data', SIMPLE, variables=ROWS)])


def render(env, source, c, add_generation_prompt):
    kwargs = dict(SPECIALS)
    kwargs.update(c.get('variables', {}))
    try:
        out = env.from_string(source).render(messages=c['messages'], tools=c.get('tools'), documents=c.get('documents'),
                                              add_generation_prompt=add_generation_prompt, **kwargs)
        return {'expected': out}
    except jinja2.exceptions.TemplateError as e:
        return {'error': str(e), 'error_type': type(e).__name__}


def main():
    env = make_env()
    out_templates = []
    for t in TEMPLATES:
        cases = []
        for c in t['conversations']:
            for agp in (False, True):
                case = {'name': f"{c['name']}/{'gen' if agp else 'no-gen'}", 'messages': c['messages'], 'add_generation_prompt': agp}
                for k in ('tools', 'documents', 'variables'):
                    if k in c:
                        case[k] = c[k]
                case.update(render(env, t['template'], c, agp))
                cases.append(case)
        out_templates.append({'name': t['name'], 'note': t['note'], 'template': t['template'], 'cases': cases})
    fixture = {
        'library': f'jinja2 {jinja2.__version__}',
        'environment': 'transformers apply_chat_template: ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, '
                       'loopcontrols, generation), raise_exception, strftime_now, tojson = json.dumps(ensure_ascii=False)',
        'specials': SPECIALS,
        'templates': out_templates,
    }
    with open(OUT, 'w', encoding='utf-8') as f:
        json.dump(fixture, f, ensure_ascii=False, indent=1)
        f.write('\n')
    n = sum(len(t['cases']) for t in out_templates)
    errors = sum(1 for t in out_templates for c in t['cases'] if 'error' in c)
    print(f'{len(out_templates)} templates, {n} cases ({errors} raise) -> {os.path.relpath(OUT)}')


if __name__ == '__main__':
    main()
