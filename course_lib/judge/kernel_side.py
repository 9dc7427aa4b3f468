"""Code that runs inside the student's kernel during grading.

This file is sent to the kernel as source text (the kernel does not need the
course package installed). It does three things only: seed the random number
generators and request deterministic kernels, run the hidden probes at the
point of each question, and export what they observe as plain data (JSON with
raw array bytes; never pickle). Verdicts are computed in the grader process.
"""

import base64
import os
import random

MIME = "application/vnd.course.probe+json"
MAX_ITEMS = 10_000
MAX_TEXT = 2_000


def install(seed, device, key=""):
    """Seed everything and return the probe runner bound to this kernel.

    ``key`` (made by the grader for this run) signs every record the runner publishes. It is kept only in
    the closure of the signing function and wiped from the places that keep the set-up cell's text (IPython's
    input history, ``In``/``_ih``/``_i*``, linecache, the kernel's copy of the request), so a student's
    replacement of the runner, or of anything it uses, cannot sign what it publishes.
    """
    import sys

    # What the set-up imports comes from the installation, never from the notebook's folder, where the student's
    # own files lie: a numpy.py of theirs would run before anything the checks rely on was captured. The
    # notebook's own imports find them as ever.
    path = list(sys.path)
    sys.path[:] = [p for p in path if p not in ("", ".") and os.path.abspath(p) != os.getcwd()]
    try:
        return _install(seed, device, key)
    finally:
        sys.path[:] = path


def _install(seed, device, key):
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    import builtins

    builtins.__dict__.pop("__course_setup_code__", None)  # a zygote's compiled copy of this module, if unused
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:
        pass
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        _ORIGINAL.update(_tensor_functions(torch))
        torch.manual_seed(seed)
        if str(device).startswith("cuda"):
            torch.cuda.manual_seed_all(seed)
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cudnn.benchmark = False
            torch.backends.cudnn.deterministic = True
        _deterministic(torch)
    from IPython import get_ipython

    shell = get_ipython()
    # Bound now, before any student code runs: rebinding IPython.display later does not reach it.
    pristine = Pristine()
    pristine.hooks_set = _count_hooks_set()
    runner = _bind(shell.display_pub.publish, pristine, key, globals())
    if key:
        _scrub(shell, key)
    return runner


def _record_log(dumps, loads):
    """``(write, written)``: what a probe records, each value frozen as JSON text when it is recorded.

    Between the probe's last record and the runner publishing them, code of the student's can still run (a
    ``weakref.finalize`` on an input, called as the probe's locals go, a ``gc`` callback): a dictionary of
    the records it could reach (``Student.values``) it could rewrite, the eval-mode flag a probe saw made
    true. The runner publishes this log, kept in these closures only."""
    entries = []

    def write(key, value):
        entries.append((str(key), dumps(value)))

    def written():
        return {key: loads(text) for key, text in entries}

    return write, written


def _count_hooks_set():
    """How many profile and trace functions were set so far (``sys.setprofile``, ``sys.settrace``, their C
    API, ``threading``'s): an audit hook counts them, and no code can remove an audit hook. One set and taken
    off again between two looks at the grading code still moved the count."""
    import sys

    count, events = [0], frozenset(("sys.setprofile", "sys.settrace"))

    def hook(event, args):
        if event in events:
            count[0] += 1

    sys.addaudithook(hook)
    return lambda: count[0]


def _deterministic(torch):
    """``torch.use_deterministic_algorithms(True, warn_only=True)``, without importing TorchInductor for it.

    PyTorch's function sets the ATen flag and ``torch._inductor.config.deterministic``; importing that
    config imports torch._dynamo and sympy (about 800 modules, 0.8 s) in a kernel that may never compile
    anything. Inductor's config reads ``TORCHINDUCTOR_DETERMINISTIC`` when it is imported, so a kernel that
    imports it later gets the same setting; one that has it already gets it set here.
    """
    set_flag = getattr(torch._C, "_set_deterministic_algorithms", None)
    if set_flag is None:  # another PyTorch: its own function
        torch.use_deterministic_algorithms(True, warn_only=True)
        return
    os.environ["TORCHINDUCTOR_DETERMINISTIC"] = "1"
    import sys

    inductor = sys.modules.get("torch._inductor.config")
    if inductor is not None:
        inductor.deterministic = True
    set_flag(True, warn_only=True)


def _bind(publish, pristine, key, space):
    """The runner of this kernel: what it publishes, signs, and relies on is held in closures, not attributes.

    Before each call the runner puts back this module's functions and classes as the set-up left them; a
    record made while any of them (or the set-up's library objects the runner keeps) had been replaced is
    published as tampered, which the grader counts as no record.
    """
    import gc
    import hashlib
    import hmac
    import json

    new_mac, sha256, dumps, loads = hmac.new, hashlib.sha256, json.dumps, json.loads
    gc_enabled, gc_disable, gc_enable = gc.isenabled, gc.disable, gc.enable
    signer = new_mac(key.encode(), digestmod=sha256) if key else None
    kept = {}

    def digest(*parts):
        return sha256(dumps(list(parts), sort_keys=True).encode()).hexdigest()

    class CourseRunner(Runner):
        __slots__ = ()

        def run(self, question, source, name):
            restore()
            return Runner._run(self, emit, pristine, question, source, name, digest(source, name))

        def keep(self, names):
            restore()
            return Runner._keep(self, kept, names)

        def define(self, names, source):
            restore()
            return Runner._define(self, pristine, kept, names, source)

        def test(self, question, code, plan):
            restore()
            return Runner._test(self, emit, pristine, kept, question, code, plan, digest(code, plan), changed)

    guarded = [space, pristine.__dict__, pristine.functions, pristine.types, pristine.builtin_names, _ORIGINAL]
    classes = [CourseRunner, Runner, Student, Lifter, Pristine, TestNames, _Untouchable]
    saved = [(d, dict(d)) for d in guarded]
    saved_classes = [(c, dict(c.__dict__)) for c in classes]

    def changed():
        out = []
        for d, snapshot in saved:
            if len(d) != len(snapshot) or any(d.get(k, _MISSING) is not v for k, v in snapshot.items()):
                out.append(str(d.get("__name__", type(d).__name__)))
        for c, snapshot in saved_classes:
            now = c.__dict__
            if len(now) != len(snapshot) or any(now.get(k, _MISSING) is not v for k, v in snapshot.items()):
                out.append(c.__name__)
        return out

    def restore():
        for d, snapshot in saved:
            for k in [k for k in d if k not in snapshot]:
                del d[k]
            for k, v in snapshot.items():
                if d.get(k, _MISSING) is not v:
                    d[k] = v
        for c, snapshot in saved_classes:
            for k in [k for k in c.__dict__ if k not in snapshot]:
                type.__delattr__(c, k)
            for k, v in snapshot.items():
                if c.__dict__.get(k, _MISSING) is not v:
                    type.__setattr__(c, k, v)

    def emit(record):
        # No collection while the record is made (``record`` may be a function that makes it), copied, signed
        # and published: a gc callback of the student's runs at any collection and can reach this frame's
        # record through the frames, between the copy and the signature.
        collecting = gc_enabled()
        gc_disable()
        try:
            _emit(record() if callable(record) else record)
        finally:
            if collecting:
                gc_enable()

    def _emit(record):
        # a copy made now: what the record holds cannot change after it is signed
        try:
            record = loads(dumps(record, sort_keys=True))
        except Exception as exc:  # not plain data: say so, signed, rather than nothing
            record = {"question": record.get("question"), "kind": record.get("kind", "probe"), "values": {},
                      "error": {"kind": "raised", "ename": type(exc).__name__, "evalue": str(exc)[:MAX_TEXT]},
                      "digest": record.get("digest")}
        tampered = changed()
        if tampered:
            record = {"question": record.get("question"), "kind": record.get("kind", "probe"),
                      "tampered": sorted(tampered)[:20], "values": {}, "error": None}
        if signer is not None:
            mac = signer.copy()
            mac.update(dumps(record, sort_keys=True, separators=(",", ":")).encode())
            record["mac"] = mac.hexdigest()
        publish(data={MIME: record}, metadata={})

    return CourseRunner()


def _holds(lines, key) -> bool:
    """Whether any of ``lines`` holds ``key``: the cache keeps the source of every module a traceback showed
    (tens of thousands of lines), searched joined, in C, rather than line by line."""
    try:
        return key in "".join(lines)
    except TypeError:  # not all text
        return any(key in line for line in lines if type(line) is str)


def _scrub(shell, key):
    """Wipe the key from everything that keeps the set-up cell's text (it is in the cell's source)."""
    import linecache
    import sys

    def clean(text):
        return text.replace(key, "") if type(text) is str else text

    ns = shell.user_ns
    for name in list(ns):
        if name.startswith("_i") and type(ns[name]) is str:
            ns[name] = clean(ns[name])
    hm = getattr(shell, "history_manager", None)
    lists = [ns.get("In"), ns.get("_ih")]
    if hm is not None:
        lists += [getattr(hm, "input_hist_raw", None), getattr(hm, "input_hist_parsed", None)]
        for name in ("_i00", "_i", "_ii", "_iii"):
            if type(getattr(hm, name, None)) is str:
                setattr(hm, name, clean(getattr(hm, name)))
        try:
            with hm.db_input_cache_lock:
                hm.db_input_cache[:] = [tuple(clean(x) for x in row) for row in hm.db_input_cache]
                hm.db.execute("UPDATE history SET source = replace(source, ?, ''), "
                              "source_raw = replace(source_raw, ?, '')", (key, key))
        except Exception:
            pass
    for items in lists:
        if type(items) is list:
            items[:] = [clean(x) for x in items]
    for cache in (linecache.cache, getattr(linecache, "_ipython_cache", None)):
        if isinstance(cache, dict):
            for name, entry in list(cache.items()):
                if type(entry) is tuple and len(entry) == 4 and type(entry[2]) is list and _holds(entry[2], key):
                    cache[name] = (entry[0], entry[1], [clean(line) for line in entry[2]], entry[3])
    kernel = getattr(shell, "kernel", None)
    parents = list(getattr(kernel, "_parents", {}).values()) + [getattr(kernel, "_parent", None)]
    for parent in parents:
        content = parent.get("content") if isinstance(parent, dict) else None
        if isinstance(content, dict) and type(content.get("code")) is str:
            content["code"] = clean(content["code"])
    frame = sys._getframe(1)
    while frame is not None:  # the cell being run (IPython's ExecutionInfo of it)
        for value in list(frame.f_locals.values()):
            info = getattr(value, "info", value)
            if type(info).__name__ == "ExecutionInfo" and type(getattr(info, "raw_cell", None)) is str:
                info.raw_cell = clean(info.raw_cell)
            if type(info).__name__ == "ExecutionInfo" and type(getattr(info, "transformed_cell", None)) is str:
                info.transformed_cell = clean(info.transformed_cell)
        frame = frame.f_back


class Runner:
    """Runs one probe function, or one nbgrader test cell, against the student's namespace.

    The runner a kernel gets is made by :func:`_bind`, which holds what it publishes with, signs with and
    relies on in closures; the methods here take those as arguments.
    """

    __slots__ = ()

    def _run(self, emit, pristine, question, source, name, digest):
        from IPython import get_ipython

        space = {"__name__": "__course_probe__"}
        # The probe's own calls (torch.randint drawing hidden data, torch.is_grad_enabled in a hook) reach the
        # libraries as the set-up found them: a student's earlier monkeypatch cannot stash or bend them, nor
        # a torch mode of the notebook's see them (those its calls enter are set aside after each call).
        changes = pristine.restore()
        modes_aside, hooks = set_aside(pristine.trusted), pristine.hooks_off()
        write, written = _record_log(pristine.dumps, pristine.loads)
        student = Student(get_ipython().user_ns, pristine.trusted, modes_aside, pristine.hooks_off, write)
        try:
            pristine.exec(pristine.compile(source, f"<probe {question}>", "exec"), space)
            space[name](student)
            error = None
        except BaseException as exc:  # a probe must always report
            error = pristine.dumps(raised(exc))
        finally:
            put_on(modes_aside)
            pristine.put_back(changes)
        emit(lambda: {"question": question, "values": written(), "digest": digest,
                      "error": pristine.loads(error) if error is not None else None})
        pristine.hooks_on(hooks)

    def _keep(self, kept, names):
        """Remember what a read-only cell of the instructor's just defined: tests use these, not later rebindings."""
        from IPython import get_ipython

        space = get_ipython().user_ns
        for name in names:
            if name in space:
                kept[name] = space[name]

    def _define(self, pristine, kept, names, source):
        """Define what a read-only cell of the instructor's defines, for the tests only: the submission lacks that
        cell (deleted, or its nbgrader metadata stripped). The notebook's namespace is left as it was, so a
        test still fails on a name the notebook does not have, as in nbgrader; one the student defined
        themselves is the instructor's while a test runs, as after a read-only cell that is there."""
        from IPython import get_ipython

        space = get_ipython().user_ns
        before = {name: space.get(name, _MISSING) for name in names}
        changes = pristine.restore()
        try:
            pristine.exec(pristine.compile(source, "<read-only cell>", "exec", dont_inherit=True, optimize=0), space)
            for name in names:
                if name in space:
                    kept[name] = space[name]
        except Exception:  # the definitions need what the notebook lacks: the tests see the notebook's names
            pass
        finally:
            for name, obj in before.items():
                if obj is _MISSING:
                    space.pop(name, None)
                else:
                    space[name] = obj
            pristine.put_back(changes)

    def _test(self, emit, pristine, kept, question, code, plan, digest, changed=None):
        """Run one nbgrader test cell, rewritten by the grader, and report how it went; returns its value.

        The code is compiled with the compiler of the set-up (never the student's ``compile``, input or AST
        transformers, or optimisation flags) and runs with the modules, builtins and helpers it names bound
        to the objects of the set-up; assertions of the common forms record their operands as data for the
        grader to decide again. The student's own bindings are put back afterwards.
        """
        from IPython import get_ipython

        p = pristine
        record = {"question": question, "kind": "test", "lifted": [], "error": None, "value": None, "text": None,
                  "value_sent": bool(plan.get("value")), "done": False, "digest": digest}
        # the test runs in the notebook's own namespace, as nbgrader runs it (it may `del` a name to see what
        # breaks, and what it binds stays for later cells); the names it relies on hold the set-up's objects
        # while it runs, and what its own statements bind is what it reads back (TestNames)
        space = get_ipython().user_ns
        changes = p.restore()
        modes_aside = set_aside(p.trusted)  # see set_aside; the test's own modes are its own
        hooks = p.hooks_off()
        hooks_before = p.hooks_set()
        saved = {}
        try:
            overlay = self._overlay(p, kept, plan, space)
            for name in (*overlay, LIFTER, VALUE):
                saved[name] = space.get(name, _MISSING)
            space.update(overlay)
            # the recorder is the test's own name only: the code the test calls cannot reach it by name
            lifter = Lifter(record["lifted"], p, changed, modes_aside=modes_aside,
                            hooked=lambda: p.hooks_set() != hooks_before)
            space.pop(LIFTER, None)
            compiled = p.compile(code, f"<test {question}>", "exec", dont_inherit=True, optimize=0)
            names = TestNames(space, compiled, {**overlay, LIFTER: lifter},
                              [LIFTER, LEAF, *(n for n in plan.get("guard", ()) if n not in overlay)],
                              plan.get("shared", ()))
            lifter._names = names
            try:
                p.exec(compiled, space, names)
                value = names.value(VALUE, None)
                if plan.get("value"):
                    record["value"] = bounded(value)
                    record["text"] = p.text(value)
                return value if plan.get("value") else None
            except BaseException as exc:
                record["error"] = raised(exc)
                raise
            finally:
                names.flush()
                if not names.holds(LIFTER, lifter):  # the recorder itself replaced in the test's own names
                    record["lifted"] = [{"index": None, "tampered": True}]
                    record["error"] = {"kind": "raised", "ename": "RuntimeError",
                                       "evalue": "the grading code of the test was replaced while it ran"}
                for name, before in saved.items():
                    # the student's binding comes back unless the test itself bound the name anew
                    if name in (LIFTER, VALUE) or space.get(name, _MISSING) is overlay.get(name, _MISSING):
                        if before is _MISSING:
                            space.pop(name, None)
                        else:
                            space[name] = before
                for name in plan.get("keep", ()):
                    if name in space:
                        kept[name] = space[name]
                record["done"] = True
                emit(record)
        finally:
            put_on(modes_aside)
            p.put_back(changes)
            p.hooks_on(hooks)

    def _overlay(self, p, kept, plan, space):
        out = {}
        for name, spec in plan.get("protect", {}).items():
            if spec[0] != "builtin" and name not in space and name not in p.builtin_names:
                out[name] = _Gone(name)  # a module or helper the notebook no longer has: the test fails on it,
                continue  # as in nbgrader, whatever the code it calls binds there meanwhile (a builtin of the
                # kernel's, IPython's display or get_ipython, is there for nbgrader's lookup too)
            try:
                if spec[0] == "kept":
                    if spec[1] in kept:
                        out[name] = kept[spec[1]]
                else:
                    out[name] = p.resolve(spec)
            except Exception:  # an import the set-up cannot make: the name stays as the notebook left it
                continue
        return out


class TestNames:
    """The top-level names of one running test cell: what its own statements bound is what it reads back.

    A test cell runs in the notebook's namespace, so code it calls (the student's functions, a ``__del__``,
    a thread) can rebind a name of the test through ``globals()`` between the test binding it and using it:
    ``expected`` set to the student's own wrong answer just before the comparison. Here the cell's
    top-level reads of a name it bound itself (and of the set-up's modules, builtins and helpers it relies
    on) come from this store; every binding and deletion of its own goes on to the notebook's namespace as
    well, so the student's code and the later cells see the namespace nbgrader would leave. Only the cell's
    own frame writes here (a write through its ``f_locals`` from elsewhere reaches the namespace only).
    Functions the test defines read the namespace, as in nbgrader.

    The names of ``guard`` (objects the test made and never hands to other code: the grader's ``guarded``)
    are kept from the code the test calls: they reach the notebook's namespace when the test ends (nothing of
    the test's own reads them there), only the test's own frame reads them here (not the caller's
    ``f_locals`` of a student's function), and each read checks that the object still holds what it held when
    bound: a tensor, array, list or dict changed in place since (found some other way) fails the read.

    The store is held in closures that check who calls them (by code object), not in attributes.
    """

    __slots__ = ("_get", "_set", "_del", "_shown", "_pairs", "_lookup", "flush", "value", "peek", "holds", "owns")

    def __init__(self, space, code, protected, guard=(), shared=()):
        import sys

        frame, own, marks, deferred, guard = sys._getframe, dict(protected), {}, set(), frozenset(guard)
        shared = frozenset(shared) - guard
        methods = TestNames.__dict__
        getitem, setitem, delitem, lookup_by = ({methods[n].__code__} for n in ("__getitem__", "__setitem__",
                                                                                 "__delitem__", "get"))
        shown_by = {methods[n].__code__ for n in ("keys", "__iter__", "__len__", "__contains__")}
        pairs_by = {methods[n].__code__ for n in ("items", "values")}
        runner, message = Runner.__dict__["_test"].__code__, Lifter.__dict__["name"].__code__

        def called(by):
            """Whether the accessor was called by one of the methods ``by`` on behalf of the test's own frame:
            what code calls a method is read from the frames, which no caller can forge."""
            return frame(2).f_code in by and frame(3).f_code is code

        def read(name, trusted):
            value = own[name]  # KeyError: not the test's own (Python reads the namespace, then builtins)
            if name in guard:
                if not trusted:
                    raise KeyError(name)
                mark = marks.get(name)
                if mark is not None and fingerprint(value) != mark:
                    raise AssertionError(f"the test's {name!r} was changed in place by code other than the test's "
                                         "while the test ran (the submission's code reached the test's own value)")
            return value

        def get(name):
            try:
                return read(name, called(getitem))
            except KeyError:
                raise KeyError(name) from None

        def lookup(name, default):
            try:
                return read(name, called(lookup_by))
            except KeyError:
                return default

        def put(name, value):
            if called(setitem) and name not in shared:
                own[name] = value
                if name in guard:
                    marks[name] = fingerprint(value)
                    deferred.add(name)
                    return
            space[name] = value

        def drop(name):
            mine = called(delitem) and own.pop(name, _MISSING) is not _MISSING
            if mine:
                marks.pop(name, None)
            if name in guard and mine:
                deferred.add(name)
            elif space.pop(name, _MISSING) is _MISSING and not mine:
                raise KeyError(name)

        def shown():
            return list(own) if called(shown_by) else [n for n in own if n not in guard]

        def pairs():
            trusted = called(pairs_by)
            return [(n, read(n, trusted)) for n in own if trusted or n not in guard]

        def flush():
            """The guarded names as the test left them, into the notebook's namespace (the test has ended)."""
            if frame(1).f_code is not runner:
                return
            for name in deferred:
                if name in own:
                    space[name] = own[name]
                else:
                    space.pop(name, None)
            deferred.clear()

        def value(name, default=None):
            return default if name in guard else own.get(name, default)

        def holds(name, obj):
            return own.get(name, _MISSING) is obj

        def owns(obj):
            """Whether the test's own statements bound ``obj`` (a mode class it defines, say)."""
            return any(value is obj for value in own.values())

        def peek(name):
            """A guarded value for an assertion's message (``Lifter.name``, in the test's own frame)."""
            if frame(1).f_code is not message or frame(2).f_code is not code:
                raise NameError(f"name {name!r} is not defined")
            return own.get(name, _Unbound(name))

        self._get, self._set, self._del, self._shown, self._pairs, self._lookup = get, put, drop, shown, pairs, \
            lookup
        self.flush, self.value, self.peek, self.holds, self.owns = flush, value, peek, holds, owns

    def __getitem__(self, name):
        return self._get(name)

    def __setitem__(self, name, value):
        self._set(name, value)

    def __delitem__(self, name):
        self._del(name)

    def __contains__(self, name):
        return name in self._shown()

    def keys(self):
        return self._shown()

    def __iter__(self):
        return iter(self._shown())

    def __len__(self):
        return len(self._shown())

    def items(self):
        return self._pairs()

    def values(self):
        return [value for _, value in self._pairs()]

    def get(self, name, default=None):
        return self._lookup(name, default)


class _Unbound:
    """A name an assertion's message uses that the test has not bound (Python raises when the message is made)."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def _fail(self, *args):
        raise NameError(f"name {self.name!r} is not defined")

    __str__ = __repr__ = __format__ = __getattr__ = __bool__ = __iter__ = __len__ = _fail


class _Gone(_Unbound):
    """A module or helper a test relies on that the notebook no longer has: every use fails as the name's
    lookup fails in nbgrader (``NameError``), and the code the test calls cannot put another object there
    (the test reads the name from its own store, not from the namespace)."""

    __slots__ = ()
    __call__ = __getitem__ = __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __contains__ = _Unbound._fail
    __hash__ = None


MAX_FINGERPRINT_BYTES = 2**16  # a tensor or array's bytes copied on each read; above, its version and address
MAX_FINGERPRINT_ITEMS = 10_000  # the items of lists and dicts a fingerprint reads in all


def fingerprint(obj):
    """What an object the test made holds, to tell later whether anyone changed it; ``None`` for an object that
    cannot change (a number, text) or that this does not follow (a view of another object, a class of the
    notebook's, a container too big to read on every use). Tensors and arrays are read through the set-up's own
    functions, not through the object."""
    budget = [MAX_FINGERPRINT_ITEMS]
    try:
        return _fingerprint(obj, 0, budget)
    except Exception:  # a kind of tensor or array it cannot read: not followed
        return None


def _fingerprint(obj, depth, budget):
    kind = type(obj)
    if obj is None or kind in (bool, int, float, complex, str, bytes):
        return ("value", kind.__name__, obj.hex() if kind is float else obj) if depth else None
    torch, np = _module("torch"), _module("numpy")
    if torch is not None and isinstance(obj, torch.Tensor):
        return _tensor_mark(torch, obj)
    if np is not None and kind is np.ndarray:
        if obj.base is not None or obj.dtype.kind not in "biufc" or obj.nbytes > MAX_FINGERPRINT_BYTES:
            return None
        return ("array", obj.dtype.str, obj.shape, obj.tobytes())
    if depth < 4 and kind in (list, tuple, dict):
        budget[0] -= len(obj)
        if budget[0] < 0:
            return None
        items = list(obj.items()) if kind is dict else list(enumerate(obj))
        marks = []
        for key, item in items:
            mark = _fingerprint(item, depth + 1, budget)
            if mark is None:
                return None
            marks.append((key if kind is dict else None, mark))
        return (kind.__name__, tuple(marks))
    return ("object", id(obj)) if depth else None


def _tensor_mark(torch, obj):
    f = _ORIGINAL or _tensor_functions(torch)
    with f["untouchable"]():
        if f["get__base"](obj) is not None:
            return None  # a view: the tensor it views may be changed through another name
        t = f["detach"](f["as_subclass"](obj, torch.Tensor))
        if t.layout is not torch.strided or t.is_quantized or t.is_meta or t.is_nested or t.is_inference():
            return None
        layout = (str(t.dtype), tuple(t.shape), f["stride"](t), str(f["get_device"](t)))
        if f["element_size"](t) * f["numel"](t) > MAX_FINGERPRINT_BYTES:
            return ("tensor", layout, f["get__version"](obj), f["data_ptr"](t))
        flat = f["reshape"](f["contiguous"](f["cpu"](t)), (-1,))
        raw = f["numpy"](f["view"](flat, torch.uint8)).tobytes() if f["numel"](flat) else b""
        return ("tensor", layout, raw)


LIFTER = "__course_assert__"
LEAF = "__course_leaf__"
VALUE = "__course_value__"
MAX_LIFTED_BYTES = 16 * 2**20


class Pristine:
    """The objects assertions rely on, captured when the set-up cell runs (before any student code)."""

    MODULES = ("builtins", "math", "numpy", "numpy.testing", "numpy.linalg", "torch", "torch.testing",
               "torch.nn.functional", "torch.linalg")

    def __init__(self):
        import builtins
        import importlib
        import sys

        for name in self.MODULES:
            try:
                importlib.import_module(name)
            except Exception:
                pass
        self.builtins = builtins
        import json

        self.compile, self.exec, self.repr = builtins.compile, builtins.exec, builtins.repr
        self.dumps, self.loads = json.dumps, json.loads
        self.import_module = importlib.import_module
        self.sys_modules = sys.modules
        self.loaded = dict(sys.modules)
        self.prefixes = tuple({os.path.realpath(p) + os.sep for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)})
        self.dicts = [(m.__dict__, dict(m.__dict__)) for m in (sys.modules.get(n) for n in self.MODULES)
                      if m is not None]
        torch = sys.modules.get("torch")
        self.classes = [(torch.Tensor, dict(torch.Tensor.__dict__))] if torch is not None else []
        self.builtin_names = dict(builtins.__dict__)
        self.hook_functions = (sys.getprofile, sys.setprofile, sys.gettrace, sys.settrace)
        self.hooks_set = lambda: 0  # the set-up's audit count (_count_hooks_set)
        self.functions = self._known(FUNCTIONS)
        self.types = self._known(TYPES)

    def hooks_off(self):
        """Switch off this thread's profile and trace functions; returns them for :meth:`hooks_on`.

        One of the student's sees the grading code run line by line and call by call: it could put an input
        back as it was just before the probe reads it, after its function's in-place result was recorded."""
        get_profile, set_profile, get_trace, set_trace = self.hook_functions
        hooks = (get_profile(), get_trace())
        if hooks[0] is not None:
            set_profile(None)
        if hooks[1] is not None:
            set_trace(None)
        return hooks

    def hooks_on(self, hooks):
        """Put back the profile and trace functions :meth:`hooks_off` switched off."""
        _, set_profile, _, set_trace = self.hook_functions
        if hooks[0] is not None:
            set_profile(hooks[0])
        if hooks[1] is not None:
            set_trace(hooks[1])

    def _known(self, paths):
        """``dotted path -> object`` of those that exist here (a library may be missing)."""
        out = {}
        for path in paths:
            try:
                out[path] = self.resolve(("attr", *path.rsplit(".", 1)))
            except Exception:
                pass
        return out

    def resolve(self, spec):
        """``("module", name)``, ``("attr", module, name)`` or ``("builtin", name)`` as it was at set-up."""
        if spec[0] == "builtin":
            return self.builtin_names[spec[1]]
        module = self.loaded.get(spec[1])
        if module is None:
            module = self.import_module(spec[1])
        if spec[0] == "module":
            return module
        for space, snapshot in self.dicts:
            if space is module.__dict__ and spec[2] in snapshot:
                return snapshot[spec[2]]
        try:
            return getattr(module, spec[2])
        except AttributeError:  # `from package import submodule`
            return self.import_module(f"{spec[1]}.{spec[2]}")

    def restore(self):
        """Put back what student code changed in the modules assertions use; returns how to undo that."""
        changes = []
        for name in self.MODULES:
            module = self.loaded.get(name)
            if module is not None and self.sys_modules.get(name, _MISSING) is not module:
                changes.append((self.sys_modules, name, self.sys_modules.get(name, _MISSING), module))
                self.sys_modules[name] = module
        for space, snapshot in self.dicts:
            for key, obj in snapshot.items():
                now = space.get(key, _MISSING)
                if now is not obj:
                    changes.append((space, key, now, obj))
                    space[key] = obj
        for cls, snapshot in self.classes:
            for key, obj in snapshot.items():
                now = cls.__dict__.get(key, _MISSING)
                if now is not obj:
                    try:
                        type.__setattr__(cls, key, obj)
                        changes.append((cls, key, now, obj))
                    except (TypeError, AttributeError):
                        pass
        return changes

    def put_back(self, changes):
        """Undo :meth:`restore` where the test left things as the set-up had them."""
        for target, key, before, pristine in reversed(changes):
            if isinstance(target, type):
                if target.__dict__.get(key, _MISSING) is pristine:
                    if before is _MISSING:
                        type.__delattr__(target, key)
                    else:
                        type.__setattr__(target, key, before)
            elif target.get(key, _MISSING) is pristine:
                if before is _MISSING:
                    del target[key]
                else:
                    target[key] = before

    def text(self, value):
        """What IPython would show for ``value`` (for nbgrader's partial-credit rule), or ``None``."""
        if value is None:
            return None
        try:
            return self.repr(value)[:200]
        except BaseException:
            return None

    def type_names(self, spec):
        """Known type names of an ``isinstance`` second argument (``None`` if any is unknown)."""
        items = spec if type(spec) is tuple else tuple(getattr(spec, "__args__", ())) \
            if type(spec).__name__ == "UnionType" else (spec,)
        names = []
        for item in items:
            if type(item) is tuple:
                inner = self.type_names(item)
                if inner is None:
                    return None
                names.extend(inner)
                continue
            name = next((path for path, known in self.types.items() if known is item), None)
            if name is None:
                return None
            names.append(name)
        return names

    def trusted(self, obj):
        """Whether an object's type comes from an installed library (not from the notebook)."""
        cls = type(obj)
        module_name = getattr(cls, "__module__", None)
        if module_name == "builtins":
            return self.builtin_names.get(str(getattr(cls, "__qualname__", ""))) is cls
        if type(module_name) is not str or module_name == "__main__":
            return False
        module = self.loaded.get(module_name) or self.sys_modules.get(module_name)
        origin = getattr(getattr(module, "__spec__", None), "origin", None)
        if type(origin) is not str or not os.path.realpath(origin).startswith(self.prefixes):
            return False
        found = module
        for part in str(getattr(cls, "__qualname__", "")).split("."):
            found = getattr(found, part, None)
        return found is cls


FUNCTIONS = ("numpy.allclose", "numpy.array_equal", "numpy.isclose", "numpy.testing.assert_allclose",
             "numpy.testing.assert_array_equal", "numpy.testing.assert_almost_equal",
             "numpy.testing.assert_array_almost_equal", "numpy.testing.assert_equal", "torch.allclose",
             "torch.equal", "torch.testing.assert_close", "math.isclose")
TYPES = ("builtins.int", "builtins.float", "builtins.bool", "builtins.str", "builtins.list", "builtins.tuple",
         "builtins.dict", "builtins.complex", "types.NoneType", "numpy.ndarray", "numpy.generic", "numpy.number",
         "numpy.floating", "numpy.integer", "numpy.bool_", "torch.Tensor", "torch.Size", "torch.dtype",
         "torch.device", "numbers.Number", "numbers.Real", "numbers.Integral")
COMPARE = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
           "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


class Lifter:
    """What a lifted assertion calls: decides it here as the original would, and records its operands as data.

    The record of an assertion is made of its operands before the decision runs any code of the student's (an
    ``__eq__``, a ``__torch_function__``) and kept as that copy, so such code cannot rewrite what the grader
    decides on. A record made while this module's classes or the set-up's objects were replaced (``changed``)
    says so, and the grader fails it.
    """

    def __init__(self, entries, pristine, changed=None, names=None, modes_aside=None, hooked=None):
        self._entries = entries
        self._p = pristine
        self._changed = changed
        self._names = names
        self._modes_aside = modes_aside
        self._hooked = hooked  # whether the code the test called set a profile or trace function

    def _modes_entered(self):
        """Whether code the test called left a torch mode entered (set aside now, back when the test ends): one
        sees, and may answer for, what the test computes after the call, its side of a comparison too."""
        if self._modes_aside is None:
            return False
        names, trusted = self._names, self._p.trusted
        left = set_aside(lambda mode: trusted(mode) or (names is not None and names.owns(type(mode))))
        for aside, modes in zip(self._modes_aside, left):
            aside.extend(modes)
        return any(left)

    def name(self, name):
        """A guarded name's value for an assertion's message (made in the test's own frame only)."""
        if self._names is None:
            raise NameError(f"name {name!r} is not defined")
        return self._names.peek(name)

    def __call__(self, index, form, args, kwargs=None, message=None, negate=False, condition=False):
        p, kwargs = self._p, kwargs or {}
        entry = {"index": index, "form": form, "negate": bool(negate), "ok": None, "condition": bool(condition)}
        try:
            entry["args"] = [bounded(a) for a in args]
            entry["kwargs"] = {str(k): bounded(v) for k, v in kwargs.items()}
            entry["trusted"] = [p.trusted(a) for a in args]
            if form == "isinstance":
                entry["types"] = p.type_names(args[1])
        except BaseException as exc:
            entry["encode_error"] = raised(exc)
        if self._modes_entered() or (self._hooked is not None and self._hooked()) \
                or (self._changed is not None and self._changed()):
            entry["tampered"] = True
        try:
            frozen = p.dumps(entry)
        except BaseException:
            frozen = None
        ok = None
        try:
            if form in COMPARE:
                ok = bool(COMPARE[form](args[0], args[1]))
            elif form == "is None":
                ok = args[0] is None
            elif form == "is not None":
                ok = args[0] is not None
            elif form == "isinstance":
                ok = p.builtin_names["isinstance"](args[0], args[1])
            elif form == "truth":
                ok = bool(args[0])
            else:
                result = p.functions[form](*args, **kwargs)
                ok = True if ".assert_" in form else bool(result)
            ok = (not ok) if negate else ok
        finally:
            if frozen is not None:
                entry = p.loads(frozen)
            else:
                entry = {"index": index, "form": form, "negate": bool(negate), "condition": bool(condition),
                         "encode_error": {"kind": "raised", "ename": "TypeError", "evalue": "not plain data"}}
            entry["ok"] = ok
            self._entries.append(entry)
        if condition:
            return ok
        if not ok:
            if message is None:
                raise AssertionError()
            raise AssertionError(message())


def bounded(obj):
    """:func:`encode`, but an array too big to send becomes a marker the grader leaves to the kernel's verdict."""
    nbytes = getattr(obj, "nbytes", None)
    if nbytes is None and hasattr(obj, "element_size") and hasattr(obj, "numel"):
        try:
            nbytes = obj.element_size() * obj.numel()
        except BaseException:
            nbytes = None
    if type(nbytes) is int and nbytes > MAX_LIFTED_BYTES:
        return {"kind": "too-big"}
    return encode(obj)


class Student:
    """What a probe sees of the student's notebook: call functions, read names, record data.

    A probe (``def probe_x(student): ...`` in ``graders/<aid>/<notebook>.py``) gets one ``Student`` and
    exports what it observes under *keys*, which the question's checks read (``Check(key=...)``, by default
    the check's name). A probe observes; it never decides: the comparison with the solution happens in the
    grader process, so record the student's results (and the inputs as the call left them), never a verdict
    the kernel computed (``torch.equal(...)`` there runs in the student's kernel, where it can be redefined).

    Recorded values travel as data: ``None``, ``bool``, ``int``, ``float``, ``str``, torch tensors (values,
    dtype, device, ``requires_grad`` and a leaf's ``.grad``), NumPy arrays and scalars, ``torch.dtype``,
    ``torch.device``, and lists, tuples, ``torch.Size`` and ``str``-keyed dicts of these; anything else arrives
    as its type name only (a module: record ``[tuple(p.shape) for p in model.parameters()]``, not the model).

    Attributes:
        ns: The notebook's namespace (its globals) at the point of the question, e.g.
            ``student.ns.get("DEVICE", "cpu")`` for the injected device. A probe that rebinds names in it must
            put them back (:class:`~course_lib.judge.spec.JudgedAlone` does this for you).
        values: ``key -> encoded value``, what the probe recorded so far (what is sent to the grader is each
            value as it was when recorded: a later change to this dictionary is not).
    """

    def __init__(self, namespace, trusted=None, modes_aside=None, hooks_off=None, write=None):
        self.ns = namespace
        self.values = {}
        self._write = write or (lambda key, value: None)
        self._trusted = trusted or (lambda obj: False)
        self._modes_aside = modes_aside
        self._hooks_off = hooks_off or (lambda: None)

    def _set_modes_aside(self, before):
        """Take off torch's stacks the modes the student's function entered and left entered (the runner puts
        them back when the probe ends), so that none sees what the probe does after the call."""
        if self._modes_aside is None:
            return
        had = [mode for modes in before for mode in modes]
        left = set_aside(lambda mode: self._trusted(mode) or any(mode is m for m in had))
        for aside, modes in zip(self._modes_aside, left):
            aside.extend(modes)

    def _keep(self, key, value):
        self.values[key] = value
        self._write(key, value)

    def call(self, key, name, *args, **kwargs):
        """Call the student's ``name(*args, **kwargs)``, record the result as ``key`` and return it.

        A name that is not defined, or not a function, is recorded as missing and an exception as raised
        (with the line of the student's code), and ``None`` is returned: the checks reading ``key`` then say so.
        """
        fn = self.ns.get(name, _MISSING)
        if fn is _MISSING:
            self._keep(key, {"kind": "missing", "name": name})
            return None
        if not callable(fn):
            self._keep(key, {"kind": "not_callable", "name": name, "type": type(fn).__name__})
            return None
        before = modes_on_stacks()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            self._keep(key, raised(exc))
            return None
        finally:
            self._hooks_off()  # one the function set would see the probe's next steps (Pristine.hooks_off)
            self._set_modes_aside(before)
        self._keep(key, encode(result))
        return result

    def value(self, key, name):
        """Record the student's variable ``name`` as it is at this point of the notebook, and return it."""
        obj = self.ns.get(name, _MISSING)
        self._keep(key, {"kind": "missing", "name": name} if obj is _MISSING else encode(obj))
        return None if obj is _MISSING else obj

    def record(self, key, obj):
        """Record any value the probe got hold of as ``key`` (an input after the call, a part of a result)."""
        self._keep(key, encode(obj))


_MISSING = object()
# torch's own methods as they were before any student code ran (monkeypatching them later changes nothing here)
_ORIGINAL = {}


def raised(exc):
    text = str(exc) if not isinstance(exc, KeyboardInterrupt) else "interrupted (time limit)"
    out = {"kind": "raised", "ename": type(exc).__name__, "evalue": text[:MAX_TEXT]}
    out.update(_where(exc))
    return out


def _where(exc):
    """The line of the student's own code the exception last passed through (not the grader's, not a library's)."""
    import sys

    libraries = tuple({os.path.realpath(p) + os.sep for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)})
    found = {}
    tb = getattr(exc, "__traceback__", None)
    while tb is not None:
        code = tb.tb_frame.f_code
        name = code.co_filename
        if not name.startswith("<") and not os.path.realpath(name).startswith(libraries):
            found = {"line": tb.tb_lineno, "function": code.co_name[:100]}
        tb = tb.tb_next
    return found


def encode(obj, depth=0):
    """Turn a value into JSON-safe data; anything unknown becomes its type name."""
    if depth > 6:
        return {"kind": "object", "type": "deeply nested value"}
    if obj is None:
        return {"kind": "none"}
    if type(obj) is bool:
        return {"kind": "scalar", "type": "bool", "value": obj}
    if type(obj) is int:
        return {"kind": "scalar", "type": "int", "value": obj}
    if type(obj) is float:
        return {"kind": "scalar", "type": "float", "value": float.hex(obj)}
    if type(obj) is str:
        return {"kind": "str", "value": obj[:MAX_TEXT]}
    torch = _module("torch")
    np = _module("numpy")
    if torch is not None and isinstance(obj, torch.Tensor):
        return _tensor(torch, np, obj, depth)
    if torch is not None and isinstance(obj, torch.dtype):
        return {"kind": "dtype", "value": str(obj).replace("torch.", "")}
    if torch is not None and isinstance(obj, torch.device):
        return {"kind": "device", "value": obj.type}
    if np is not None and isinstance(obj, np.ndarray):
        return _ndarray(np, obj, "numpy")
    if np is not None and isinstance(obj, np.generic):
        return _ndarray(np, np.asarray(obj), "numpy-scalar")
    if type(obj) in (list, tuple) or (torch is not None and type(obj) is torch.Size):
        kind = "list" if type(obj) is list else "tuple"
        return {"kind": kind, "items": [encode(x, depth + 1) for x in list(obj)[:MAX_ITEMS]]}
    if type(obj) is dict and all(type(k) is str for k in obj):
        return {"kind": "dict", "items": {k: encode(v, depth + 1) for k, v in list(obj.items())[:MAX_ITEMS]}}
    return {"kind": "object", "type": type(obj).__qualname__[:200]}


def _module(name):
    import sys

    return sys.modules.get(name)


def _ndarray(np, arr, library):
    if arr.dtype.kind not in "biufc":
        return {"kind": "object", "type": f"array of {arr.dtype}"}
    shape = list(arr.shape)  # before ascontiguousarray, which makes a 0-d array 1-d
    arr = np.ascontiguousarray(arr)
    return {"kind": "array", "library": library, "dtype": str(arr.dtype), "wire": arr.dtype.str,
            "shape": shape, "data": base64.b64encode(arr.tobytes()).decode("ascii")}


def _tensor_functions(torch):
    """What :func:`_tensor` reads a tensor with: torch's own methods, and the getters of its C base class (a
    subclass's property or ``__torch_function__`` cannot answer for ``requires_grad``, ``grad``, ``is_leaf`` or
    ``device``: they are read with subclass dispatch switched off). ``untouchable`` switches off every
    ``__torch_function__`` and ``__torch_dispatch__`` while a tensor is read: a mode the notebook's code left
    entered sees every torch call of the probe, and would otherwise hand the reads another tensor's data."""
    base = getattr(torch._C, "TensorBase", None) or getattr(torch._C, "_TensorBase")
    no_function, no_dispatch = torch._C.DisableTorchFunction, torch._C._DisableTorchDispatch
    getters = {f"get_{name}": base.__dict__[name].__get__
               for name in ("requires_grad", "grad", "is_leaf", "device", "_base", "_version")}
    return {"as_subclass": torch.Tensor.as_subclass, "detach": torch.Tensor.detach, "cpu": torch.Tensor.cpu,
            "numpy": torch.Tensor.numpy, "float": torch.Tensor.float, "data_ptr": torch.Tensor.data_ptr,
            **{name: getattr(torch.Tensor, name) for name in ("stride", "element_size", "numel", "reshape",
                                                              "contiguous", "view")},
            **getters,
            "untouchable": lambda: _Untouchable(no_function(), no_dispatch()),
            **_mode_stack_functions(torch)}


def _mode_stack_functions(torch):
    """``(length, pop, push)`` of torch's stacks of ``__torch_function__`` and ``__torch_dispatch__`` modes
    (the dispatch one with its library modes: fake, proxy, functional tensors)."""
    c = torch._C
    try:
        pop_dispatch = c._pop_torch_dispatch_stack
        return {"mode_stacks": ((c._len_torch_function_stack, c._pop_torch_function_stack,
                                 c._push_on_torch_function_stack),
                                (c._len_torch_dispatch_stack, lambda: pop_dispatch(None),
                                 c._push_on_torch_dispatch_stack))}
    except AttributeError:  # a PyTorch without these stacks
        return {}


def modes_on_stacks():
    """The modes on torch's stacks now, one list per stack, bottom first (none without torch)."""
    found = set_aside(lambda mode: False)
    put_on(found)
    return found


def set_aside(keep):
    """Take every mode for which ``keep(mode)`` is false off torch's stacks; returns those, one list per stack,
    bottom first.

    A mode the notebook's code entered and left entered sees every torch call made after it, the grading
    code's too: a probe's own computations, what a test computes to compare with. The library's own modes
    (``torch.set_default_device``'s) stay where they are."""
    out = []
    for length, pop, push in _ORIGINAL.get("mode_stacks", ()):
        modes = [pop() for _ in range(length())][::-1]
        stays = [bool(keep(mode)) for mode in modes]
        for mode, kept in zip(modes, stays):
            if kept:
                push(mode)
        out.append([mode for mode, kept in zip(modes, stays) if not kept])
    return out


def put_on(aside):
    """Put modes :func:`set_aside` took back on top of torch's stacks."""
    for (_, _, push), modes in zip(_ORIGINAL.get("mode_stacks", ()), aside):
        for mode in modes:
            push(mode)


class _Untouchable:
    """Both of torch's guards as one context (no ``contextlib``: nothing the notebook can patch)."""

    __slots__ = ("guards",)

    def __init__(self, *guards):
        self.guards = guards

    def __enter__(self):
        for guard in self.guards:
            guard.__enter__()

    def __exit__(self, *exc):
        for guard in reversed(self.guards):
            guard.__exit__(*exc)
        return False


def _tensor(torch, np, obj, depth):
    f = _ORIGINAL or _tensor_functions(torch)
    with f["untouchable"]():
        device, requires_grad = f["get_device"](obj).type, bool(f["get_requires_grad"](obj))
        grad = f["get_grad"](obj) if f["get_is_leaf"](obj) else None
        t = f["detach"](f["as_subclass"](obj, torch.Tensor))
        dtype = str(t.dtype).replace("torch.", "")
        if t.is_sparse or np is None:
            return {"kind": "object", "type": f"tensor of {dtype}"}
        data = f["cpu"](t)
        if data.dtype in (torch.bfloat16, torch.float16) or str(data.dtype).startswith("torch.float8"):
            data = f["float"](data)
        array = f["numpy"](data)
    out = _ndarray(np, array, "torch")
    out.update(dtype=dtype, device=device, requires_grad=requires_grad)
    out["grad"] = _tensor(torch, np, grad, depth + 1) if grad is not None else None
    return out
