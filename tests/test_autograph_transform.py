"""Autograph's source transform on Python values: a converted function must behave exactly like
the original (same results, same exceptions), show its rewrite with ``to_source``, and run with
the user's file and line numbers."""

import functools
import traceback
import warnings

import pytest

import tracefn.autograph as ag

# ------------------------------------------------------------------ functions to convert


def elif_chain(x):
    if x > 5:
        r = 2
    elif x > 0:
        r = 1
    else:
        r = 0
    return r


def early_return(x):
    if x < 0:
        return -x
    return x


def return_only_in_if(x):
    if x > 0:
        return 1


def while_sum(n):
    i = 0
    s = 0
    while i < n:
        s += i
        i += 1
    return s, i


def for_break(n):
    s = 0
    for i in range(n):
        if i > 3:
            break
        s += i
    return s


def for_continue(n):
    s = 0
    for i in range(n):
        if i % 2 == 0:
            continue
        s += i
    return s


def while_break(n):
    i = 0
    while i < n:
        if i == 3:
            break
        i += 1
    return i


def for_else(xs, target):
    for x in xs:
        if x == target:
            found = True
            break
    else:
        found = False
    return found, x


def while_else(n):
    i = 0
    while i < n:
        i += 1
    else:
        i = -i
    return i


def return_in_loop(xs):
    for x in xs:
        if x > 2:
            return x * 10
    return None


def return_in_while(n):
    i = 0
    while True:
        i += 1
        if i >= n:
            return i


def nested_loops(n):
    total = 0
    for i in range(n):
        j = 0
        while j < i:
            if j == 2:
                break
            total += j
            j += 1
        else:
            total += 100
        if total > 300:
            continue
        total += 1
    return total


def logical(a, b):
    return (a > 0 and b > 0, a > 0 or b > 0, not a > 0, a and b, a or b, 0 or a, a and b and 7)


def ternary(x):
    return 1 if x > 0 else -1


def loop_target_after(n):
    for i in range(n):  # noqa: B007
        pass
    return i


def defined_in_one_branch(flag):
    if flag:
        y = 1
    return y


def lazy_operands(flag):
    calls = []

    def bump():
        calls.append(1)
        return True

    r = flag and bump()
    s = flag or bump()
    return r, s, len(calls)


def walrus(xs):
    it = iter(xs)
    out = []
    while (x := next(it, None)) is not None:
        out.append(x)
    if (n := len(out)) > 2:
        out.append(n)
    return out, [y for y in out if (m := y) > 1], m


def comprehensions(xs):
    y = 5
    squares = [y * y for y in xs if y % 2 == 0]
    pairs = {k: v for k, v in zip(xs, squares)}
    return squares, pairs, y


def try_except(x):
    try:
        if x == 0:
            raise ZeroDivisionError("zero")
        r = 10 // x
    except ZeroDivisionError as e:
        r = str(e)
    finally:
        done = True
    return r, done


def with_block(x):
    import contextlib

    with contextlib.nullcontext(x) as v:
        if v > 1:
            return v
    return -v


def deletes(flag):
    a = 1
    if flag:
        del a
        a = 2
    return a


def star_args(*args, **kwargs):
    total = sum(args) + sum(kwargs.values())
    return max(*args) if args else total, sorted(kwargs, key=lambda k: -kwargs[k])


def attributes(flag):
    class Box:
        pass

    b = Box()
    b.a = 0
    if flag:
        b.a = 5
    for i in range(3):
        b.a += i
    return b.a


def uses_helper(x):
    return helper(x) + helper(-x)


def helper(x):
    if x > 0:
        return x
    return 0


def recursive(n):
    if n <= 1:
        return 1
    return n * recursive(n - 1)


COUNTER = 0


def global_write(flag):
    global COUNTER
    if flag:
        COUNTER += 1
    return COUNTER


def make_closure(scale):
    def inner(x):
        nonlocal scale
        if x > 0:
            scale += 1
        return x * scale

    return inner


def nested_def(n):
    def sign(v):
        return 1 if v > 0 else -1 if v < 0 else 0

    out = []
    for v in range(-n, n + 1):
        out.append(sign(v))
    return out


def generator_fn(n):
    for i in range(n):
        if i % 2:
            yield i


def docstring_fn(x):
    """A docstring stays first."""
    if x:
        return "yes"
    return "no"


def chained_else_return(x):
    if x > 0:
        return "pos"
    elif x < 0:
        return "neg"
    print_free = "zero"
    return print_free


def defaults(x, y=2, *, z=3):
    if x:
        return x + y + z
    return y * z


class Base:
    def value(self, x):
        return x + 1


class Child(Base):
    def value(self, x):
        if x > 0:
            return super().value(x) * 2
        return 0

    def __call__(self, x):
        return [self.value(i) for i in range(x)]


def return_through_finally(n):
    total = 0
    try:
        for i in range(n):
            try:
                if i == 2:
                    return total
                total += i
            finally:
                total += 100
    finally:
        total += 1000
    return total


def while_else_with_jumps(items):
    items = list(items)
    found = None
    while items:
        x = items.pop()
        if x is None:
            break
        if x < 0:
            continue
        found = x if found is None else max(found, x)
    else:
        return "exhausted", found
    return "broke", found


def match_statement(x):
    match x:
        case [a, b]:
            if a > b:
                return a
            return b
        case {"k": v}:
            return v
        case _:
            return None


def nested_jumps(n):
    i = 0
    while True:
        i += 1
        if i > n:
            break
        if i % 2:
            continue
        for j in range(i):
            if j > 1:
                break
        else:
            return "inner-else", i
    return "done", i


def calls_closure(n):
    x = 1

    def inc():
        nonlocal x
        x += 1

    for _ in range(n):
        if x < 5:
            inc()
    return x


def continue_in_except(n):
    s = 0
    i = 0
    while i < n:
        i += 1
        try:
            if i == 3:
                raise ValueError(i)
        except ValueError as e:
            s += e.args[0] * 10
            continue
        s += i
    return s


def walrus_in_while_body(xs):
    it = iter(xs)
    total = 0
    while (x := next(it, 0)) > 0:
        x -= 1
        total += x
    return total, x


CASES = [
    (elif_chain, [(7,), (3,), (-1,)]),
    (early_return, [(-2,), (5,)]),
    (return_only_in_if, [(1,), (-1,)]),
    (while_sum, [(5,), (0,)]),
    (for_break, [(10,), (2,)]),
    (for_continue, [(6,), (0,)]),
    (while_break, [(10,), (2,)]),
    (for_else, [([1, 2, 3], 2), ([1, 2, 3], 7)]),
    (while_else, [(3,), (0,)]),
    (return_in_loop, [([1, 2, 3, 4],), ([1],)]),
    (return_in_while, [(3,), (0,)]),
    (nested_loops, [(6,), (30,)]),
    (logical, [(1, -1), (0, 3), (-2, 0), (2, 5)]),
    (ternary, [(3,), (-3,)]),
    (loop_target_after, [(3,)]),
    (defined_in_one_branch, [(True,)]),
    (lazy_operands, [(True,), (False,)]),
    (walrus, [([1, 2, 3],), ([5],)]),
    (comprehensions, [([1, 2, 3, 4],)]),
    (try_except, [(0,), (3,)]),
    (with_block, [(3,), (-1,)]),
    (deletes, [(True,), (False,)]),
    (star_args, [(1, 2, 3), ()]),
    (attributes, [(True,), (False,)]),
    (uses_helper, [(4,), (-4,)]),
    (recursive, [(5,)]),
    (nested_def, [(2,)]),
    (docstring_fn, [(1,), (0,)]),
    (chained_else_return, [(1,), (-1,), (0,)]),
    (defaults, [(1,), (0,), (1, 5)]),
    (return_through_finally, [(5,), (1,)]),
    (while_else_with_jumps, [([1, -2, 5, 3],), ([1, None, 7],)]),
    (match_statement, [([1, 2],), ({"k": 9},), (3,)]),
    (nested_jumps, [(7,), (1,)]),
    (calls_closure, [(10,)]),
    (continue_in_except, [(6,)]),
    (walrus_in_while_body, [([3, 4, 0],)]),
]


@pytest.mark.parametrize(
    "fn, args", [(fn, a) for fn, arg_list in CASES for a in arg_list],
    ids=lambda v: getattr(v, "__name__", repr(v)),
)  # fmt: skip
def test_python_semantics_unchanged(fn, args):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ag.AutoGraphWarning)
        converted = ag.convert(fn)
    assert ag.is_converted(converted)
    assert converted(*args) == fn(*args)


def test_python_exceptions_unchanged():
    with pytest.raises(UnboundLocalError):
        defined_in_one_branch(False)
    with pytest.raises(UnboundLocalError, match="'y' is used before assignment"):
        ag.convert(defined_in_one_branch)(False)
    with pytest.raises(UnboundLocalError):
        ag.convert(loop_target_after)(0)


def test_globals_and_closures_are_shared():
    global COUNTER
    COUNTER = 0
    assert ag.convert(global_write)(True) == 1
    assert COUNTER == 1
    assert ag.convert(global_write)(False) == 1
    inner = make_closure(2)
    converted = ag.convert(inner)
    assert converted(1) == 3  # nonlocal write through the shared closure cell
    assert inner(1) == 4  # ... seen by the original too
    assert converted(-1) == -4


def test_methods_keep_self_super_and_callables():
    c = Child()
    bound = ag.convert(c.value)
    assert bound.__self__ is c and ag.is_converted(bound)
    assert bound(3) == 8 and bound(-1) == 0
    assert ag.convert(c)(3) == c(3) == [0, 4, 6]
    part = ag.convert(functools.partial(defaults, 1, z=10))
    assert part() == 13


def logged(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        wrapper.calls += 1
        return fn(*args, **kwargs)

    wrapper.calls = 0
    return wrapper


@logged
def decorated(x):
    return "pos" if x > 0 else "neg"


def test_decorated_functions_convert_the_wrapper_and_the_wrapped():
    converted = ag.convert(decorated)
    assert converted(1) == "pos" and decorated.calls == 1
    assert "ag__.converted_call(fn, (*args,), {**kwargs})" in ag.to_source(decorated)
    assert "if_exp" in ag.to_source(decorated.__wrapped__)


def test_lambdas():
    f = lambda x: 1 if x > 0 else -1  # noqa: E731
    g = ag.convert(f)
    assert ag.is_converted(g) and g.__name__ == "<lambda>"
    assert (g(2), g(-2)) == (1, -1)
    assert "ag__.if_exp" in ag.to_source(f)
    pair = (lambda a: a and 1, lambda a: a or 2)  # two lambdas on one line: ambiguous
    with pytest.warns(ag.AutoGraphWarning):
        assert ag.convert(pair[0]) is pair[0]


def test_unconvertible_functions_run_as_is_with_one_warning():
    namespace = {}
    exec("def made(x):\n    return x if x else -1\n", namespace)
    made = namespace["made"]
    with pytest.warns(ag.AutoGraphWarning, match="source is not available"):
        assert ag.convert(made) is made
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ag.convert(made) is made  # warned once only
    assert ag.convert(len) is len
    assert ag.convert(generator_fn) is generator_fn
    assert ag.convert(functools.reduce) is functools.reduce  # standard library
    import numpy as np

    assert ag.convert(np.mean) is np.mean


def test_do_not_convert():
    @ag.do_not_convert
    def plain(x):
        return x and 1

    assert ag.convert(plain) is plain
    with pytest.raises(ValueError):
        ag.to_source(plain)


def test_convert_is_cached():
    assert ag.convert(elif_chain) is ag.convert(elif_chain)
    assert ag.convert(ag.convert(elif_chain)) is ag.convert(elif_chain)
    a, b = make_closure(1), make_closure(5)
    assert ag.convert(a) is not ag.convert(b)  # one per function object, shared code
    assert ag.convert(a).__code__ is ag.convert(b).__code__


# -------------------------------------------------------------------------- to_source


def test_to_source_if():
    src = ag.to_source(elif_chain)
    assert "def if_body():" in src and "def else_body():" in src
    assert "ag__.if_stmt(x > 5, if_body, else_body, get_state, set_state, ('r',))" in src
    compile(src, "<to_source>", "exec")


def test_to_source_loops_and_jumps():
    src = ag.to_source(for_break)
    assert "break_ = False" in src
    assert "ag__.for_stmt(ag__.converted_call(range, (n,), None), extra_test, loop_body" in src
    assert "return ag__.not_(break_)" in src
    src = ag.to_source(while_sum)
    assert "ag__.while_stmt(loop_test, loop_body, get_state, set_state, ('i', 's'))" in src


def test_to_source_returns():
    src = ag.to_source(early_return)
    # The code after `if x < 0: return -x` becomes the else branch (spec A3, last row).
    assert "def else_body():" in src and "retval_ = x" in src
    assert src.rstrip().endswith("return ag__.retval(retval_)")
    assert "do_return" not in ag.to_source(ternary)  # a single final return stays as it is


def test_to_source_expressions():
    src = ag.to_source(logical)
    assert "ag__.and_(lambda: a > 0, lambda: b > 0)" in src
    assert "ag__.not_(a > 0)" in src
    assert "ag__.if_exp(x > 0, lambda: 1, lambda: -1, 'x > 0')" in ag.to_source(ternary)


# ------------------------------------------------------------------- source locations


def _raises_in_branch(x):
    if x > 0:
        y = x + None  # line: _raises_in_branch + 2
    else:
        y = x
    return y


def test_tracebacks_point_at_user_lines():
    first = _raises_in_branch.__code__.co_firstlineno
    with pytest.raises(TypeError) as info:
        ag.convert(_raises_in_branch)(1)
    frames = traceback.extract_tb(info.value.__traceback__)
    user = [f for f in frames if f.filename == __file__]
    assert [f.lineno for f in user][-2:] == [first + 1, first + 2]
    assert user[-1].line == "y = x + None  # line: _raises_in_branch + 2"


def test_converted_code_uses_user_file_name():
    code = ag.convert(while_sum).__code__
    assert code.co_filename == __file__
    assert code.co_firstlineno == while_sum.__code__.co_firstlineno
    lines = {line for _, _, line in code.co_lines() if line}
    first = while_sum.__code__.co_firstlineno
    assert lines <= set(range(first, first + 7))


def test_frames_of_branches_are_user_frames():
    seen = []

    def probe():
        stack = traceback.extract_stack()
        user = [(f.filename, f.lineno) for f in stack if f.filename == __file__]
        seen.append(user[-2])  # the caller of probe
        return 1

    def uses_probe(x):
        if x:
            return probe()
        return 0

    ag.convert(uses_probe)(True)
    line = uses_probe.__code__.co_firstlineno + 2
    assert seen == [(__file__, line)]
