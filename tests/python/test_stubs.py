"""The package is typed (py.typed) and the extension has a stub generated from
it: every public name of asyncps._asyncps is in _asyncps.pyi, and Client's
signature there lists every option keyword with the default the module uses."""
import ast
import os

import asyncps
import asyncps._asyncps as ext


def stub():
    path = os.path.join(os.path.dirname(asyncps.__file__), "_asyncps.pyi")
    with open(path) as f:
        return ast.parse(f.read(), path)


def test_the_stub_names_every_public_name_and_the_package_is_typed():
    tree = stub()
    defined = {n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    defined |= {n.target.id for n in tree.body if isinstance(n, ast.AnnAssign)}
    public = {n for n in dir(ext) if not n.startswith("_")} | {"__version__"}
    assert public <= defined, public - defined
    assert os.path.exists(os.path.join(os.path.dirname(asyncps.__file__), "py.typed"))


def test_client_keywords_and_defaults_in_the_stub_are_the_modules():
    client = next(n for n in stub().body if isinstance(n, ast.ClassDef) and n.name == "Client")
    init = next(f for f in client.body if isinstance(f, ast.FunctionDef) and f.name == "__init__")
    stubbed = {a.arg: ast.literal_eval(d) for a, d in zip(init.args.kwonlyargs, init.args.kw_defaults)}
    options = {k: default for k, (default, _) in ext._client_option_defaults().items()
               if k not in ("servers", "worker_id", "algorithm")}
    assert stubbed == options
    assert [a.arg for a in init.args.args] == ["self", "servers", "layout", "worker_id", "algorithm"]
