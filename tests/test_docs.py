"""README.md, bench/README.md, docs/: every command, flag, make target, file, link they show exists.

Read from the Markdown files:

* fenced code blocks (``sh``, ``bash``, ``console`` or no language): each command line, with
  ``\\`` continuations joined; a comment line that starts with ``# =`` (the convention for "this
  target runs ...") is read as a command too, other comments are prose;
* inline code spans: a span that starts with a command is read as one; a span that starts with
  ``--`` must be a flag of some script of the project; a span that looks like a path must exist;
* links ``[text](target)``: the target, relative to the Markdown file, must exist, and its
  ``#anchor`` must be one of the target's headings (GitHub's slugs).

Commands: ``python X.py`` (also ``.venv*/bin/python X.py``, or ``X.py ...`` alone): X.py is in
the tree and each ``--flag`` is one of its parser's.  ``mnist.py``, ``cifar10.py`` and
``svhn.py`` are checked against the parser ``run_options.build_parser`` builds for them (built,
not run); other scripts against the ``add_argument`` strings of the script and of the
repository modules it hands its parser to (or whose ``main`` it runs).  ``make T VAR=value``:
T is a Makefile target, VAR a Makefile variable, and the ``--flags`` in VAR's value belong to
the script that T's recipe runs with ``$(VAR)``; a ``# =`` line under ``make T`` shows the
default value of each ``*_FLAGS`` variable T's recipe uses.  Paths that runs create (``RUNTIME_PREFIXES``,
``RUNTIME_NAMES``) are allowed; paths outside the tree (``../``, ``~``, ``/``, ``$VAR``) are not
checked.
"""
from __future__ import print_function

import ast
import glob
import io
import json
import os
import re
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README_LIMIT = 16000

# Created at run time, so absent from a fresh clone: run outputs, data, environments.
RUNTIME_PREFIXES = ('results/', 'data/', '.venv')
# The files of a run folder, named alone in the text.
RUNTIME_NAMES = frozenset(['results.json', 'results.mat', 'checkpoint.npz', 'curves.png'])
# Scripts whose parser is built from run_options.build_parser(module.EXPERIMENT).
DATASET_SCRIPTS = ('mnist.py', 'cifar10.py', 'svhn.py')
PATH_EXTENSIONS = ('.py', '.c', '.sh', '.json', '.log', '.txt', '.png', '.npz', '.md', '.mat',
                   '.csv', '.ini', '.gz', '.cfg', '.toml', '.yml')
# Top-level folders of run outputs and data, not searched for file names.
TOP_SKIP = ('data', 'results')
SHELL_LANGUAGES = ('', 'sh', 'bash', 'shell', 'console')
SEPARATORS = ('|', '||', '&&', ';', '&')


def doc_files():
    files = ['README.md', 'bench/README.md']
    for folder, dirs, names in os.walk(os.path.join(ROOT, 'docs')):
        dirs.sort()
        files.extend(os.path.relpath(os.path.join(folder, n), ROOT).replace(os.sep, '/')
                     for n in sorted(names) if n.endswith('.md'))
    return files


def read_text(relpath):
    with io.open(os.path.join(ROOT, relpath), encoding='utf-8') as handle:
        return handle.read()


# ---------------------------------------------------------------- Markdown

class Doc(object):
    """A Markdown text split into code lines, inline spans, links and heading slugs."""

    def __init__(self, name, text):
        self.name = name
        self.code = []          # (line number, logical command line)
        self.expansions = []    # per code line: a `# = ...` line (what the make line above runs)
        equals = False
        prose = []
        fence = None
        pending, pending_no = None, 0
        for number, line in enumerate(text.split('\n'), 1):
            stripped = line.strip()
            if fence is None and stripped.startswith('```'):
                fence = stripped[3:].strip().lower()
                prose.append('')
                continue
            if fence is not None:
                if stripped.startswith('```'):
                    fence = None
                elif fence in SHELL_LANGUAGES:
                    if stripped.startswith('#'):
                        body = stripped.lstrip('#').strip()
                        if pending is None and not body.startswith('='):
                            prose.append('')
                            continue
                        equals = body.startswith('=') if pending is None else equals
                        stripped = body.lstrip('=').strip()
                    elif pending is None:
                        equals = False
                    if pending is not None:
                        stripped, number = pending + ' ' + stripped, pending_no
                    if stripped.endswith('\\'):
                        pending, pending_no = stripped[:-1], number
                    else:
                        pending = None
                        self.code.append((number, stripped))
                        self.expansions.append(equals)
                prose.append('')
                continue
            prose.append(line)
        self.prose = '\n'.join(prose)
        self.slugs = set(slug(l.lstrip('#')) for l in self.prose.split('\n')
                         if re.match(r'#{1,6} ', l))

    def _line(self, pos):
        return self.prose.count('\n', 0, pos) + 1

    def spans(self):
        for m in re.finditer(r'(?<!`)`([^`]+)`(?!`)', self.prose):
            yield self._line(m.start()), ' '.join(m.group(1).split())

    def links(self):
        for m in re.finditer(r'\]\(([^)\s]+)\)', self.prose):
            yield self._line(m.start()), m.group(1)


def slug(heading):
    """GitHub's anchor of a heading."""
    text = heading.strip().lower()
    text = re.sub(r'[^\w\- ]', '', text, flags=re.UNICODE)
    return text.replace(' ', '-')


# ---------------------------------------------------------------- the tree

_TREE_NAMES = []


def tree_basenames():
    if not _TREE_NAMES:
        names = set()
        for folder, dirs, files in os.walk(ROOT):
            dirs[:] = [d for d in dirs if not d.startswith(('.git', '.venv', '__pycache__')) and
                       not (folder == ROOT and d in TOP_SKIP)]
            names.update(files)
            names.update(dirs)
        _TREE_NAMES.append(names)
    return _TREE_NAMES[0]


def expand_braces(path):
    m = re.search(r'\{([^{}]*)\}', path)
    if not m:
        return [path]
    out = []
    for choice in m.group(1).split(','):
        out.extend(expand_braces(path[:m.start()] + choice + path[m.end():]))
    return out


def looks_like_path(token):
    if not token or token.startswith('-') or '=' in token or '://' in token or ' ' in token:
        return False
    if not re.match(r'^[\w.\-/<>*{},~$]+$', token, re.UNICODE):
        return False
    if re.match(r'^\.[\w.]+$', token):
        return False                    # an extension (`.npz`), not a file
    return '/' in token or token.endswith(PATH_EXTENSIONS)


def path_problem(path, base=''):
    """None if `path` (relative to ROOT/base) is in the tree or allowed, else a message."""
    if path.startswith(('/', '~', '$', '../')) and not base:
        return None
    rel = os.path.normpath(os.path.join(base, path)).replace(os.sep, '/')
    if rel.startswith('../'):
        return None                                   # outside the repository
    if path.startswith('./'):
        path = path[2:]
    if rel.startswith(RUNTIME_PREFIXES) or rel in ('results', 'data'):
        return None
    if '/' not in path.rstrip('/'):
        if path in RUNTIME_NAMES or path.rstrip('/') in tree_basenames():
            return None
        if not base:
            return 'file %r is nowhere in the tree' % path
    for candidate in expand_braces(rel):
        pattern = re.sub(r'<[^<>]*>', '*', candidate)
        if not glob.glob(os.path.join(ROOT, pattern)):
            return 'file %r is not in the tree' % candidate
    return None


# ---------------------------------------------------------------- parsers

_FLAGS = {}


def _string(node):
    if sys.version_info[0] >= 3:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        return None
    return node.s if isinstance(node, ast.Str) else None


def _parse(path):
    with open(path, 'rb') as handle:
        return ast.parse(handle.read(), path)


def _module_file(name, near):
    parts = name.split('.')
    for base in (os.path.dirname(near), ROOT):
        for candidate in (os.path.join(base, *parts) + '.py',
                          os.path.join(base, os.path.join(*parts), '__init__.py')):
            if os.path.isfile(candidate):
                return candidate
    return None


def _func_name(func):
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


def source_flags(path, seen=None):
    """The option strings a script's parser gets, read from its source: its ``add_argument``
    calls, and those of the repository modules it passes its parser to or whose main it runs."""
    seen = set() if seen is None else seen
    if path in seen:
        return set()
    seen.add(path)
    tree = _parse(path)
    modules, imported = {}, {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                modules[alias.asname or alias.name.split('.')[0]] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                imported[alias.asname or alias.name] = node.module
                # `from bench.studies import mnist_runs`: the name may be a module
                modules.setdefault(alias.asname or alias.name, node.module + '.' + alias.name)
    parsers = set()
    aliases = set(['add'])
    flags = set()
    follow = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            called = _func_name(node.value.func)
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            if called in ('ArgumentParser', '_Parser', 'add_parser', 'build_parser',
                          'add_argument_group', 'add_mutually_exclusive_group'):
                parsers.update(names)
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Attribute) and \
                node.value.attr == 'add_argument':
            aliases.update(t.id for t in node.targets if isinstance(t, ast.Name))
        if not isinstance(node, ast.Call):
            continue
        name = _func_name(node.func)
        if name == 'add_argument' or (isinstance(node.func, ast.Name) and name in aliases):
            flags.update(s for s in map(_string, node.args) if s and s.startswith('-'))
        if any(isinstance(a, ast.Name) and a.id in parsers for a in node.args):
            func = node.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and \
                    func.value.id in modules:
                follow.add(modules[func.value.id])
            elif isinstance(func, ast.Name) and func.id in imported:
                follow.add(imported[func.id])
    if 'main' in imported:
        follow.add(imported['main'])
    for module in follow:
        found = _module_file(module, path)
        if found and os.path.abspath(found).startswith(ROOT):
            flags |= source_flags(found, seen)
    return flags


def script_flags(script):
    """The option strings of ``script`` (a path relative to ROOT)."""
    if script not in _FLAGS:
        if script in DATASET_SCRIPTS:
            if ROOT not in sys.path:
                sys.path.insert(0, ROOT)
            import importlib
            import run_options
            module = importlib.import_module(script[:-3])
            parser = run_options.build_parser(module.EXPERIMENT)
            _FLAGS[script] = set(parser._option_string_actions)
        else:
            _FLAGS[script] = source_flags(os.path.join(ROOT, script)) | set(['-h', '--help'])
    return _FLAGS[script]


_ALL = []


def all_flags():
    """Every option string of every script in the repository."""
    if not _ALL:
        flags = set()
        for script in DATASET_SCRIPTS:
            flags |= script_flags(script)
        for folder, dirs, files in os.walk(ROOT):
            dirs[:] = [d for d in dirs if not d.startswith(('.', '__pycache__')) and
                       not (folder == ROOT and d in TOP_SKIP + ('tests',))]
            for name in files:
                path = os.path.join(folder, name)
                if name.endswith('.py') and 'add_argument' in io.open(
                        path, encoding='utf-8', errors='replace').read():
                    flags |= source_flags(path)
        _ALL.append(flags)
    return _ALL[0]


# ---------------------------------------------------------------- Makefile

class Makefile(object):
    def __init__(self, text):
        self.targets, self.variables, self.recipes, self.values = set(), set(), {}, {}
        current = []
        for line in text.split('\n'):
            if line.startswith('\t'):
                for target in current:
                    self.recipes.setdefault(target, []).append(line)
                continue
            m = re.match(r'^([A-Za-z_][A-Za-z0-9_]*)\s*(\?=|:=|\+=|=)(.*)$', line)
            if m:
                self.variables.add(m.group(1))
                self.values[m.group(1)] = m.group(3).strip()
                current = []
                continue
            m = re.match(r'^([^\s#=:.][^:=]*?)\s*:(?!=)', line)
            if m:
                current = [t for t in m.group(1).split() if '$' not in t and '%' not in t]
                self.targets.update(current)
            elif line.strip() and not line.startswith('#'):
                current = []
        self.variables.update(re.findall(r'\$\(([A-Za-z_][A-Za-z0-9_]*)\)', text))

    def flag_variables(self, target):
        """The ``*_FLAGS`` variables of ``target``'s recipe with their default values."""
        found = []
        for line in self.recipes.get(target, []):
            for variable in re.findall(r'\$\(([A-Z0-9_]*_FLAGS)\)', line):
                if variable in self.values:
                    found.append((variable, self.values[variable]))
        return found

    def script_reading(self, target, variable):
        """The script that ``target``'s recipe runs with ``$(variable)``, or None."""
        for line in self.recipes.get(target, []):
            if '$(%s)' % variable in line:
                m = re.search(r'python\S*\s+([\w./-]+\.py)(?:\s|$)', line)
                if m:
                    return m.group(1)
        return None


_MAKEFILE = []


def makefile():
    if not _MAKEFILE:
        _MAKEFILE.append(Makefile(read_text('Makefile')))
    return _MAKEFILE[0]


# ---------------------------------------------------------------- commands

def tokenize(line):
    """Shell words with their quotes removed; stops at a comment."""
    words = []
    for m in re.finditer(r'''(?:[^\s'"]+|'[^']*'|"[^"]*")+''', line):
        raw = m.group(0)
        if raw.startswith('#'):
            break
        words.append(re.sub(r''''([^']*)'|"([^"]*)"''',
                            lambda q: q.group(1) if q.group(1) is not None else q.group(2), raw))
    return words


def segments(words):
    current = []
    for word in words:
        if word in SEPARATORS:
            if current:
                yield current
            current = []
        elif word.endswith(';') and len(word) > 1:
            current.append(word[:-1])
            yield current
            current = []
        else:
            current.append(word)
    if current:
        yield current


def is_python(word):
    return re.match(r'^python[0-9.]*$', word.split('/')[-1]) is not None


def check_flags(script, args, where, problems):
    known = script_flags(script)
    skip = False
    for word in args:
        if skip:
            skip = False
            continue
        if re.match(r'^\d*>>?$', word):
            skip = True                  # a redirection and its file
            continue
        word = word.strip('[]')
        if word.startswith('--'):
            flag = word.split('=')[0]
            if flag not in known:
                problems.append('%s: %s has no flag %s' % (where, script, flag))
        elif looks_like_path(word):
            problem = path_problem(word)
            if problem:
                problems.append('%s: %s' % (where, problem))


def check_command(line, where, problems):
    """Problems of one command line (python scripts and make); returns True if it held one."""
    found = False
    for words in segments(tokenize(line)):
        i = 0
        while i < len(words) and re.match(r'^[A-Za-z_][A-Za-z0-9_]*=', words[i]):
            i += 1
        if i < len(words) and words[i] in ('export', 'nice', 'time', 'exec'):
            i += 1
            while i < len(words) and (words[i].startswith('-') or words[i].isdigit()):
                i += 1
        words = words[i:]
        if not words:
            continue
        if is_python(words[0]):
            rest = words[1:]
            while rest and rest[0].startswith('-') and rest[0] != '-m':
                rest = rest[1:]
            if rest[:1] == ['-m']:
                found = True
                for word in rest[2:]:
                    if looks_like_path(word.strip('[]')):
                        problem = path_problem(word.strip('[]'))
                        if problem:
                            problems.append('%s: %s' % (where, problem))
                continue
            if not rest or not rest[0].endswith('.py'):
                continue
            words = rest
        if words[0].endswith('.py'):
            found = True
            script = words[0][2:] if words[0].startswith('./') else words[0]
            if not os.path.isfile(os.path.join(ROOT, script)):
                problems.append('%s: script %s is not in the tree' % (where, script))
                continue
            check_flags(script, words[1:], where, problems)
        elif words[0] == 'make':
            found = True
            check_make(words[1:], where, problems)
    return found


def check_make(args, where, problems):
    make = makefile()
    targets, assignments = [], []
    for word in args:
        if word.startswith('-'):
            continue
        m = re.match(r'^([A-Za-z_][A-Za-z0-9_]*)=(.*)$', word)
        if m:
            assignments.append((m.group(1), m.group(2)))
        elif re.match(r'^[\w.\-]+$', word):
            targets.append(word)
            if word not in make.targets:
                problems.append('%s: the Makefile has no target %s' % (where, word))
    for variable, value in assignments:
        if variable not in make.variables:
            problems.append('%s: the Makefile has no variable %s' % (where, variable))
            continue
        for target in targets:
            script = make.script_reading(target, variable)
            if script:
                check_flags(script, tokenize(value), where, problems)


def contains(words, part):
    """Whether ``part`` is a contiguous run of ``words``."""
    return any(words[i:i + len(part)] == part for i in range(len(words) - len(part) + 1))


def command_problems(doc):
    problems = []
    targets = []
    for (number, line), expansion in zip(doc.code, doc.expansions):
        where = '%s:%d' % (doc.name, number)
        check_command(line, where, problems)
        if expansion:
            words = tokenize(line)
            for target in targets:
                for variable, value in makefile().flag_variables(target):
                    if not contains(words, tokenize(value)):
                        problems.append('%s: make %s runs %s = %s, not shown here'
                                        % (where, target, variable, value))
        else:
            words = tokenize(line)
            targets = ([w for w in words[1:] if re.match(r'^[\w.\-]+$', w)]
                       if words[:1] == ['make'] and not any('=' in w for w in words) else [])
    for number, span in doc.spans():
        where = '%s:%d' % (doc.name, number)
        if check_command(span, where, problems):
            continue
        if span.startswith('--'):
            flag = span.split()[0].split('=')[0].rstrip('.,;:)')
            if flag not in all_flags():
                problems.append('%s: no script has a flag %s' % (where, flag))
    return problems


def file_problems(doc):
    problems = []
    for number, span in doc.spans():
        if looks_like_path(span):
            problem = path_problem(span)
            if problem:
                problems.append('%s:%d: %s' % (doc.name, number, problem))
    return problems


def link_problems(doc):
    problems = []
    base = os.path.dirname(doc.name)
    for number, target in doc.links():
        if re.match(r'^[a-z]+:', target):
            continue
        where = '%s:%d' % (doc.name, number)
        path, _, anchor = target.partition('#')
        if path:
            rel = os.path.normpath(os.path.join(base, path)).replace(os.sep, '/')
            if not os.path.exists(os.path.join(ROOT, rel)):
                problems.append('%s: link to %s, which is not in the tree' % (where, rel))
                continue
        else:
            rel = doc.name
        if anchor and rel.endswith('.md'):
            slugs = doc.slugs if rel == doc.name else Doc(rel, read_text(rel)).slugs
            if anchor not in slugs:
                problems.append('%s: %s has no heading #%s' % (where, rel, anchor))
    return problems


def load(name):
    return Doc(name, read_text(name))


# ---------------------------------------------------------------- tests

DOCS = doc_files()


def test_make_help_lists_every_target_and_every_phony_target_has_a_rule():
    """`make help` names every target the Makefile declares .PHONY (the README says it lists
    every target), and each of them has a rule."""
    make = makefile()
    phony = re.search(r'^\.PHONY:(.*)$', read_text('Makefile'), re.M).group(1).split()
    help_text = '\n'.join(make.recipes['help'])
    assert [t for t in phony if t not in make.targets] == []
    assert [t for t in phony if t != 'help' and
            not re.search(r'make %s\b(?!-)' % re.escape(t), help_text)] == []


def test_readme_is_short():
    size = os.path.getsize(os.path.join(ROOT, 'README.md'))
    assert size <= README_LIMIT, 'README.md is %d bytes, more than %d' % (size, README_LIMIT)


def test_docs_folder_has_its_files():
    for name in ('method.md', 'running.md', 'results.md', 'gpu.md', 'benchmarks.md',
                 'testing.md', 'notebook/README.md'):
        assert os.path.isfile(os.path.join(ROOT, 'docs', name)), name


@pytest.mark.parametrize('name', DOCS)
def test_commands_flags_and_targets_exist(name):
    problems = command_problems(load(name))
    assert not problems, '\n'.join(problems)


@pytest.mark.parametrize('name', DOCS)
def test_cited_files_exist(name):
    problems = file_problems(load(name))
    assert not problems, '\n'.join(problems)


@pytest.mark.parametrize('name', DOCS)
def test_links_and_anchors_resolve(name):
    problems = link_problems(load(name))
    assert not problems, '\n'.join(problems)


BROKEN = u"""# Broken

```sh
make mnist MNIST_FLAGS='--epochs 3 --no-such-flag 1'
make no-such-target
make mnist NO_SUCH_VARIABLE=1
.venv311/bin/python mnist.py --batch-size 10 --bogus
.venv311/bin/python no_such_script.py
.venv311/bin/python bench/studies/compare_methods.py --json bench/results/no-such-file.json --epochs 1 --nope
# = .venv311/bin/python gated_xnor.py weights/mnist-gxnor.npz --kernel numpy --limits 3
make cifar10
# = .venv311/bin/python cifar10.py --data-dir data/cifar10 --epochs 3
```

See `bench/results/missing.json`, `--not-a-flag-anywhere` and `make sensitivty`;
[a link](docs/missing.md), [an anchor](#no-such-heading), [ok](#broken).
"""


def test_the_checks_catch_broken_references():
    doc = Doc('README.md', BROKEN)
    found = '\n'.join(command_problems(doc) + file_problems(doc) + link_problems(doc))
    for expected in ('mnist.py has no flag --no-such-flag', 'no target no-such-target',
                     'no variable NO_SUCH_VARIABLE', 'mnist.py has no flag --bogus',
                     'script no_such_script.py', "'bench/results/no-such-file.json'",
                     'compare_methods.py has no flag --nope', 'gated_xnor.py has no flag --limits',
                     "'weights/mnist-gxnor.npz'", "'bench/results/missing.json'",
                     'flag --not-a-flag-anywhere', 'no target sensitivty', 'docs/missing.md',
                     '#no-such-heading', 'make cifar10 runs CIFAR10_FLAGS'):
        assert expected in found, (expected, found)
    for fine in ('--epochs', '--batch-size 10', 'has no heading #broken', '--kernel'):
        assert fine + '\n' not in found and 'flag ' + fine not in found, (fine, found)


def test_the_readmes_ci_time_is_the_newest_measurement():
    """README's `.ci/run` minutes are those of the newest empty-cache and kept-cache
    records of bench/results/ci-time.json (tools/fresh-ci.sh), both green."""
    with open(os.path.join(ROOT, 'bench', 'results', 'ci-time.json')) as handle:
        records = json.load(handle)
    cold = [r for r in records if r['caches'] == 'cold'][-1]
    warm = [r for r in records if r['caches'] == 'warm'][-1]
    assert cold['exit_status'] == warm['exit_status'] == 0
    with open(os.path.join(ROOT, 'README.md')) as handle:
        readme = ' '.join(handle.read().split())
    assert 'took %.1f minutes with empty caches and %.1f with them kept' % (
        cold['minutes'], warm['minutes']) in readme
