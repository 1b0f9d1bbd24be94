"""The one error tree (skysift.errors): every exception class skysift defines derives from
SkysiftError and is drawn in errors.py's docstring; the errors of the GCN listener and of the
batch engine have their exact types."""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import skysift
import skysift.errors as errors
from skysift.errors import (
    BatchSchemaError,
    FilterError,
    GcnError,
    GcnKafkaError,
    SkysiftError,
    StoreError,
)

SRC = Path(skysift.__file__).resolve().parent
#: modules not imported by the walk: they run something when imported
NOT_IMPORTED = ("skysift.__main__", "skysift.store.migrations")
#: exception classes allowed outside the tree, with the reason (none today)
OUTSIDE_THE_TREE: dict[str, str] = {}


def _module_names() -> list[str]:
    names = []
    for path in sorted(SRC.rglob("*.py")):
        parts = ("skysift", *path.relative_to(SRC).with_suffix("").parts)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if not name.startswith(NOT_IMPORTED):
            names.append(name)
    return names


def _exception_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for name in _module_names():
        module = importlib.import_module(name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__.startswith("skysift"):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return found


def test_every_exception_class_is_in_the_tree_and_drawn():
    classes = _exception_classes()
    assert len(classes) > 20  # the walk did find them
    tree = errors.__doc__ or ""
    outside = sorted(n for n, c in classes.items()
                     if not issubclass(c, SkysiftError) and n not in OUTSIDE_THE_TREE)
    assert outside == [], f"exceptions not derived from SkysiftError: {outside}"
    undrawn = sorted(n for n, c in classes.items()
                     if c is not SkysiftError and f"── {c.__name__} " not in tree
                     and n not in OUTSIDE_THE_TREE)
    assert undrawn == [], f"exceptions missing from errors.py's docstring tree: {undrawn}"


def test_no_exception_class_is_defined_outside_errors_py():
    """Statically, so that a module the walk cannot import is covered too: every class whose
    bases name an exception is defined in errors.py (the others re-export it)."""
    builtin = {n for n, v in vars(builtins).items()
               if isinstance(v, type) and issubclass(v, BaseException)}
    ours = {c.__name__ for c in vars(errors).values()
            if isinstance(c, type) and issubclass(c, BaseException)}
    offenders = []
    for path in SRC.rglob("*.py"):
        if path.name == "errors.py" and path.parent == SRC:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.ClassDef):
                bases = {ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases}
                if bases & (builtin | ours) or node.name.endswith(("Error", "Exception")):
                    offenders.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name}")
    assert offenders == [], f"define exceptions in skysift/errors.py: {offenders}"


def test_the_drawing_names_only_real_classes_with_their_parents():
    """Each line of the tree names a class of errors.py, indented under its base class."""
    lines = [line for line in (errors.__doc__ or "").splitlines() if "── " in line]
    stack: list[tuple[int, type]] = [(-1, SkysiftError)]
    drawn = set()
    for line in lines:
        depth = line.index("── ")
        name = line[depth + 3:].split()[0]
        cls = getattr(errors, name)
        while stack[-1][0] >= depth:
            stack.pop()
        assert cls.__bases__[0] is stack[-1][1], f"{name} is drawn under {stack[-1][1].__name__}"
        stack.append((depth, cls))
        drawn.add(name)
    defined = {n for n, c in vars(errors).items()
               if isinstance(c, type) and issubclass(c, SkysiftError) and c is not SkysiftError}
    assert defined == drawn
    assert set(errors.__all__) == defined | {"SkysiftError"}


def test_re_exports_are_the_same_classes():
    from skysift.alerts import avrocode, project
    from skysift.annotations import store
    from skysift.notify import mail
    from skysift.search import position
    from skysift.web import httperrors
    from skysift.worker import policy

    assert httperrors.RateLimited is errors.RateLimited
    assert issubclass(httperrors.NotFound, httperrors.WebError)
    assert store.AnnotationRejected is errors.AnnotationRejected
    assert mail.EmailError is errors.EmailError
    assert position.PositionError is errors.PositionError
    assert issubclass(position.PositionError, ValueError)  # as before
    assert policy.Stopped is errors.Stopped and policy.Abandoned is errors.Abandoned
    assert avrocode.FastDecodeError is project.FastDecodeError is errors.FastDecodeError
    assert str(errors.Stopped()) and str(errors.Abandoned())  # raised without a message
    with pytest.raises(position.PositionError) as info:
        position.parse_ra("400")
    assert type(info.value) is errors.PositionError


def test_status_of_the_moved_errors():
    from skysift.web.httperrors import status_of

    assert status_of(errors.RateLimited("slow down")) == 429
    assert status_of(errors.AnnotationForbidden("not yours")) == 403
    assert status_of(errors.AnnotationRejected("bad")) == 400
    assert status_of(errors.PositionError("bad")) == 400
    assert status_of(errors.EmailError("down")) == 500


# ---------------------------------------------------------------------- GCN: no RuntimeError
class _FatalError:
    def fatal(self) -> bool:
        return True

    def __str__(self) -> str:
        return "broker: fenced"


class _Message:
    def error(self) -> _FatalError:
        return _FatalError()


class _Consumer:
    closed = False

    def subscribe(self, topics: list[str], on_assign: Any = None) -> None:
        pass

    def poll(self, timeout: float) -> _Message:
        return _Message()

    def close(self) -> None:
        self.closed = True


def test_gcn_listener_fatal_kafka_error_is_a_gcn_error(monkeypatch, tmp_path):
    from skysift.gcn import listen as listen_mod
    from skysift.gcn.state import ListenerState

    consumer = _Consumer()
    monkeypatch.setattr(listen_mod, "ensure_group_id", lambda s: s)
    monkeypatch.setattr(listen_mod, "make_consumer", lambda s, c: consumer)
    monkeypatch.setattr(listen_mod, "consumer_config", lambda s, g: {})
    monkeypatch.setattr(listen_mod, "pin_new_group", lambda c, t, s: False)
    settings: Any = SimpleNamespace(topic="igwn.gwalert", group_id="g", start_at="end")
    processor: Any = SimpleNamespace(warm_up=lambda: None)
    state = ListenerState(None, 0)
    with pytest.raises(GcnKafkaError) as info:
        listen_mod.listen(settings, processor=processor, state=state)
    assert type(info.value) is GcnKafkaError
    assert isinstance(info.value, GcnError) and not isinstance(info.value, RuntimeError)
    assert "fenced" in str(info.value) and info.value.topic == "igwn.gwalert"
    assert consumer.closed


def test_gcn_listen_module_raises_no_runtime_error():
    text = (SRC / "gcn" / "listen.py").read_text()
    assert "RuntimeError" not in text


# ---------------------------------------------------------------------- the batch engine
@pytest.fixture
def engine():
    from skysift.filters.batch import BatchEngine
    from skysift.filters.catalogue import Catalogue

    e = BatchEngine(Catalogue({"objects": {"diaObjectId": "int", "ra": "float", "g": "float"}}))
    yield e
    e.close()


def test_batch_engine_column_mismatches_are_filter_errors(engine):
    cases = [
        lambda: engine.load("objects", [{"diaObjectId": 1, "nope": 2}]),
        lambda: engine.load("nowhere", []),
        lambda: engine.keep_columns("objects", ["ra", "nope"]),
        lambda: engine.keep_columns("nowhere", ["ra"]),
        lambda: engine.add_table("objects", {"diaObjectId": "int"}),
        lambda: engine.check_columns("objects", {"nope"}, filter_name="f1"),
    ]
    for case in cases:
        with pytest.raises(BatchSchemaError) as info:
            case()
        assert type(info.value) is BatchSchemaError
        assert isinstance(info.value, FilterError) and not isinstance(info.value, StoreError)
    with pytest.raises(BatchSchemaError) as info:
        engine.check_columns("objects", {"ra", "nope"}, filter_name="f1")
    assert info.value.filter == "f1" and info.value.table == "objects"
    engine.check_columns("objects", {"ra", "g"})  # known columns: no error


def test_policy_and_filter_failure_keep_batch_schema_errors_with_the_filter():
    from skysift.filters.active import filter_failure
    from skysift.worker.policy import classify

    exc = BatchSchemaError("unknown column(s) ['nope'] for batch table 'objects'", filter="f")
    assert filter_failure(exc, "f") is exc  # recorded on the filter as it is
    assert classify(exc) == "content"  # never transient (the store is not blamed)
