"""The value of a keyword-argument expression from a hyper-parameter file, without ``eval``.

rl-baselines3-zoo files write ``policy_kwargs`` (and ``normalize``) as Python source, e.g.
``"dict(ortho_init=False, activation_fn=nn.ReLU, net_arch=dict(pi=[64], vf=[64]))"``; the zoo
``eval``s it. Here the text is parsed (``ast.parse(mode="eval")``) and only this grammar is
evaluated:

    value  := number | string | True | False | None | -number | +number
            | [value, ...] | (value, ...) | {constant: value, ...}
            | dict(name=value, ...)
            | nn.Name | torch.nn.Name | th.nn.Name      (a torch.nn.Module subclass)

Anything else (other names and calls, operators, comprehensions, ``**``, attributes of other
modules, lambdas) is refused with an :class:`ExpressionError` naming the construct and its
column, so a file can name an activation function but cannot run code.
"""

from __future__ import annotations

import ast
from typing import Any

import ppobr_core

# the module aliases under which rl-baselines3-zoo files name torch.nn
NN_PREFIXES = (("nn",), ("torch", "nn"), ("th", "nn"))


class ExpressionError(ppobr_core.InvalidArgumentError):
    """A keyword-argument expression outside the grammar of this module (or not Python)."""


def _error(argument: str, text: str, what: str) -> ExpressionError:
    err = ExpressionError(f"{argument}: {what} in {text!r}")
    err.argument = argument
    return err


def _dotted(node: ast.AST) -> tuple:
    """``a.b.c`` as ("a", "b", "c"); () when the node is not a chain of names."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return ()
    parts.append(node.id)
    return tuple(reversed(parts))


def _nn_class(name: str):
    """torch.nn's module class ``name``, or None: only ``nn.Module`` subclasses are named."""
    import torch.nn

    if name.startswith("_"):
        return None
    value = getattr(torch.nn, name, None)
    if isinstance(value, type) and issubclass(value, torch.nn.Module):
        return value
    return None


def evaluate(text: str, argument: str = "policy_kwargs") -> Any:
    """The value of ``text`` under this module's grammar; ``argument`` names it in errors."""
    if not isinstance(text, str):
        raise _error(argument, repr(text), f"expected a string, got {type(text).__name__}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise _error(argument, text, f"not a Python expression ({e.msg})") from None
    except (ValueError, RecursionError, MemoryError) as e:  # null bytes; nesting too deep
        raise _error(argument, text, f"not a Python expression ({type(e).__name__})") from None

    def value(node: ast.AST) -> Any:
        where = f"at column {getattr(node, 'col_offset', 0) + 1}"
        if isinstance(node, ast.Constant):
            if isinstance(node.value, (bool, int, float, str)) or node.value is None:
                return node.value
            raise _error(argument, text, f"unsupported constant {node.value!r} {where}")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            operand = node.operand
            if (
                isinstance(operand, ast.Constant)
                and isinstance(operand.value, (int, float))
                and not isinstance(operand.value, bool)
            ):
                return -operand.value if isinstance(node.op, ast.USub) else operand.value
            raise _error(argument, text, f"a sign applies to a number only {where}")
        if isinstance(node, ast.List):
            return [value(e) for e in node.elts]
        if isinstance(node, ast.Tuple):
            return tuple(value(e) for e in node.elts)
        if isinstance(node, ast.Dict):
            out = {}
            for k, v in zip(node.keys, node.values):
                if k is None:
                    raise _error(argument, text, f"** unpacking is not supported {where}")
                key = value(k)
                if not isinstance(key, (str, int, float, bool)) and key is not None:
                    raise _error(argument, text, f"a dict key must be a constant {where}")
                out[key] = value(v)
            return out
        if isinstance(node, ast.Call):
            if not (isinstance(node.func, ast.Name) and node.func.id == "dict"):
                called = ast.unparse(node.func)
                raise _error(argument, text, f"only dict(...) may be called, not {called} {where}")
            if node.args:
                raise _error(argument, text, f"dict(...) takes keyword arguments only {where}")
            out = {}
            for keyword in node.keywords:
                if keyword.arg is None:
                    raise _error(argument, text, f"** unpacking is not supported {where}")
                out[keyword.arg] = value(keyword.value)
            return out
        if isinstance(node, (ast.Attribute, ast.Name)):
            dotted = _dotted(node)
            for prefix in NN_PREFIXES:
                if len(dotted) == len(prefix) + 1 and dotted[:-1] == prefix:
                    cls = _nn_class(dotted[-1])
                    if cls is None:
                        raise _error(
                            argument, text, f"torch.nn has no module class {dotted[-1]!r} {where}"
                        )
                    return cls
            name = ast.unparse(node)
            raise _error(
                argument, text, f"unknown name {name} {where} (only nn.<Module> may be named)"
            )
        raise _error(argument, text, f"unsupported {type(node).__name__} {where}")

    try:
        return value(tree.body)
    except RecursionError:
        raise _error(argument, text, "nested too deeply") from None
