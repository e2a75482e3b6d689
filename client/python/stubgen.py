"""Writes _asyncps.pyi, the type stub of the asyncps extension, next to it.

Usage: python3 stubgen.py PACKAGE_DIR   (the folder holding asyncps/_asyncps*.so)

The stub is made from the built module itself: pybind11's signature lines
(the first line of each docstring), the exception classes' bases, and for
asyncps.Client every option of the C++ options table as a keyword-only
argument with its default (_asyncps._client_option_defaults()), so editors
and type checkers see what help(asyncps.Client) says. Run by the build
(client/python/CMakeLists.txt) and by setup.py; nothing here is hand-kept.
"""
import inspect
import os
import re
import sys

POSITIONAL = ("servers", "worker_id", "algorithm")  # Client's own parameters, in the C++ table too
TYPES = {"handle": "Any", "object": "Any", "buffer": "Any"}


def annotation(text):
    text = text.replace("asyncps._asyncps.", "")
    return re.sub(r"\b(handle|object|buffer)\b", lambda m: TYPES[m.group(1)], text)


def signature(doc, name):
    """'name(args) -> ret' from a pybind11 docstring's first line, or None."""
    first = (doc or "").strip().split("\n")[0]
    m = re.match(rf"{re.escape(name)}\((.*)\) -> (.+)$", first)
    return (annotation(m.group(1)), annotation(m.group(2))) if m else None


def client_init(module):
    params = ["self", "servers: Union[str, Sequence[str]]", "layout: Any", "worker_id: int = 0",
              "algorithm: str = 'adag'", "*"]
    for name, (default, unit) in module._client_option_defaults().items():
        if name in POSITIONAL:
            continue
        kind = "Union[float, datetime.timedelta]" if unit == "s" else type(default).__name__
        params.append(f"{name}: {kind} = {default!r}")
    return "    def __init__(" + ", ".join(params) + ") -> None: ..."


def members(cls, module):
    out = []
    for name, member in cls.__dict__.items():
        if name.startswith("_") and name not in ("__init__", "__enter__", "__exit__", "__len__"):
            continue
        if cls.__name__ == "Client" and name == "__init__":
            out.append(client_init(module))
        elif isinstance(member, property):
            sig = signature(member.fget.__doc__, "") or ("", "Any")
            out += ["    @property", f"    def {name}(self) -> {sig[1]}: ..."]
        else:
            sig = signature(getattr(member, "__doc__", ""), name)
            if sig is None:
                continue
            args = re.sub(r"^self: \w+", "self", sig[0])
            out.append(f"    def {name}({args}) -> {sig[1]}: ...")
    return out or ["    ..."]


def main():
    package = os.path.abspath(sys.argv[1])
    sys.path.insert(0, os.path.dirname(package))
    from asyncps import _asyncps as module

    lines = ['"""Type stub of asyncps._asyncps, generated from the built module by client/python/stubgen.py."""',
             "import datetime", "from typing import Any, Optional, Sequence, Union", ""]
    public = [n for n in dir(module) if not n.startswith("_")] + ["__version__"]
    for name in public:
        obj = getattr(module, name)
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            bases = ", ".join(b.__name__ for b in obj.__bases__)
            lines += ["", f"class {name}({bases}): ..."]
        elif inspect.isclass(obj):
            lines += ["", f"class {name}:"] + members(obj, module)
        elif callable(obj):
            sig = signature(obj.__doc__, name)
            lines += ["", f"def {name}({sig[0]}) -> {sig[1]}: ..." if sig else f"def {name}(*args: Any) -> Any: ..."]
        else:
            lines += ["", f"{name}: {type(obj).__name__}"]
    with open(os.path.join(package, "_asyncps.pyi"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
