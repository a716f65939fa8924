"""The one module that imports durable_rules: a narrow, typed wrapper that guards its hazards.

durable-rules 2.0.28 ships no type stubs and has sharp edges (docs/durable.md lists them). This
wrapper is all riskgrade touches of it:

* its ``Host`` starts two timer threads that never stop and dispatch actions on their own:
  :class:`DurableHost` overrides ``_run``, so there are no threads and nothing is dispatched
  except inside :meth:`DurableHost.match`;
* it is not thread-safe: every call holds the host's lock;
* exceptions raised in actions are swallowed into the state: actions here record their errors
  and :meth:`~DurableHost.match` raises them, and a state that carries an exception anyway is
  cleared and reported;
* a ruleset name can be registered only once per host: :meth:`~DurableHost.register` versions
  names (``name.v1``, ``name.v2``, ...);
* ``delete_state`` crashes the process in common cases: it is never called; each ruleset keeps
  one state and its lowest-priority catch-all rule, whose single run proves a fact was handled.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Final

from riskgrade.errors import EngineUnavailableError, EvaluationError, PackError

__all__ = ["CATCH_ALL", "INSTALL_HINT", "SUPPORTED_VERSION", "DurableHost"]

SUPPORTED_VERSION: Final = "2.0.28"
INSTALL_HINT: Final = "pip install 'riskgrade[durable]'"
#: The name of the catch-all rule in every ruleset (pack rule ids cannot contain ':').
CATCH_ALL: Final = "riskgrade:catch_all"
#: The one state id of every ruleset: never an enterprise id (1,024 ids at most per ruleset, told
#: apart by a 32-bit hash).
STATE_ID: Final = "0"
#: The id of the fact being matched; it is retracted before the next one is asserted.
FACT_ID: Final = "assessment"


def _load_engine() -> Any:
    """Import ``durable.engine``, or say how to install it."""
    try:
        installed = metadata.version("durable-rules")
    except metadata.PackageNotFoundError:
        installed = None
    if installed is not None and installed != SUPPORTED_VERSION:
        msg = (
            f"the durable engine is calibrated for durable-rules {SUPPORTED_VERSION}, "
            f"found {installed}; install the supported one with: {INSTALL_HINT}"
        )
        raise EngineUnavailableError(msg, field="engine")
    try:
        import durable.engine as engine  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        msg = (
            f"the durable engine needs the optional extra durable-rules {SUPPORTED_VERSION} "
            f"(Python 3.12 or older, and a C compiler); install it with: {INSTALL_HINT}"
        )
        raise EngineUnavailableError(msg, field="engine") from None
    return engine


def _quiet_host(engine: Any) -> Any:
    class QuietHost(engine.Host):  # type: ignore[misc]
        """A durable-rules host without its two never-ending timer threads."""

        def _run(self) -> None:
            # Host._run arms threading.Timer loops that dispatch actions and timers every
            # 0.2 s for ever; riskgrade matches synchronously and needs neither.
            return

    return QuietHost()


@dataclass
class _Match:
    """What the actions of one match record."""

    ruleset: str
    fired: list[str] = field(default_factory=list)
    catch_all: int = 0
    errors: list[BaseException] = field(default_factory=list)


class DurableHost:
    """A durable-rules host for riskgrade's rulesets: no threads, one lock, checked calls.

    Raises :class:`~riskgrade.errors.EngineUnavailableError` when durable-rules 2.0.28 is not
    installed. Several evaluators may share one host; their rulesets get distinct names.
    """

    def __init__(self) -> None:
        engine = _load_engine()
        self._host: Any = _quiet_host(engine)
        self._lock = threading.Lock()
        self._current: _Match | None = None
        self._stray: list[BaseException] = []
        self._handles: dict[str, int] = {}
        self._finalizer = weakref.finalize(self, _delete_all, self._handles)

    # -- rulesets --------------------------------------------------------------------------
    def register(self, name: str, rules: Mapping[str, Mapping[str, object]]) -> str:
        """Register the ruleset ``rules`` (rule name → durable-rules rule, no ``run``) under a
        fresh version of ``name``; return the name it got.

        ``rules`` must hold :data:`CATCH_ALL`. Raises :class:`~riskgrade.errors.PackError`
        when durable-rules refuses the ruleset.
        """
        if CATCH_ALL not in rules:
            msg = f"ruleset {name!r} has no catch-all rule {CATCH_ALL!r}"
            raise PackError(msg)
        with self._lock:
            directory: Mapping[str, object] = self._host._ruleset_directory
            version = 1
            while f"{name}.v{version}" in directory:
                version += 1
            versioned = f"{name}.v{version}"
            # durable-rules takes the rules apart as it registers them: give it a deep copy.
            definition: dict[str, dict[str, object]] = json.loads(json.dumps(dict(rules)))
            for rule in definition:
                definition[rule]["run"] = self._action(versioned, rule)
            try:
                self._host.register_rulesets({versioned: definition})
            except Exception as exc:
                msg = f"durable-rules refused ruleset {versioned!r}: {exc}"
                raise PackError(msg) from exc
            self._handles[versioned] = self._host.get_ruleset(versioned)._handle
            return versioned

    def unregister(self, names: list[str]) -> None:
        """Remove rulesets this host registered and free their memory in durable-rules."""
        with self._lock:
            for name in names:
                handle = self._handles.pop(name, None)
                if handle is None:
                    continue
                ruleset = self._host._ruleset_directory.pop(name)
                self._host._ruleset_list.remove(ruleset)
                _delete_ruleset(handle)

    def close(self) -> None:
        """Free every ruleset of this host; it cannot be used afterwards."""
        with self._lock:
            self._finalizer()

    # -- matching --------------------------------------------------------------------------
    def match(self, ruleset: str, fact: Mapping[str, object]) -> frozenset[str]:
        """Assert ``fact``, run the actions of every rule it satisfies, retract it, and return
        those rules' names.

        Raises :class:`~riskgrade.errors.EvaluationError` if durable-rules fails the fact, an
        action raised, or the catch-all did not run exactly once.
        """
        message = {**fact, "id": FACT_ID, "sid": STATE_ID}
        retraction = {"id": FACT_ID, "sid": STATE_ID}
        with self._lock:
            current = _Match(ruleset)
            self._current = current
            asserted = False
            try:
                state = self._call("match a fact in", ruleset, self._host.assert_fact, message)
                asserted = True
            finally:
                self._current = None
                # Always retract: a fact left behind would make the next one a duplicate.
                # Retracting a fact that was never stored is harmless.
                try:
                    self._call("retract a fact from", ruleset, self._host.retract_fact, retraction)
                except EvaluationError:
                    if asserted:
                        raise
            errors = [*current.errors, *self._stray]
            self._stray.clear()
            if isinstance(state, dict) and "exception" in state:
                problem = str(state.pop("exception"))
                self._call("reset the state of", ruleset, self._host.update_state, state)
                msg = f"durable-rules reported an error in ruleset {ruleset!r}: {problem}"
                raise EvaluationError(msg)
        if errors:
            msg = f"an action of ruleset {ruleset!r} raised {errors[0]!r}"
            if not isinstance(errors[0], Exception):
                raise errors[0]
            raise EvaluationError(msg) from errors[0]
        if current.catch_all != 1:
            msg = (
                f"durable-rules ran the catch-all rule of {ruleset!r} {current.catch_all} times "
                "instead of once: the fact was not fully handled"
            )
            raise EvaluationError(msg)
        return frozenset(current.fired)

    def _call(self, what: str, ruleset: str, call: Callable[..., object], *args: object) -> object:
        try:
            return call(ruleset, *args)
        except Exception as exc:
            detail = getattr(exc, "message", None) or str(exc)
            msg = f"durable-rules could not {what} ruleset {ruleset!r}: {detail}"
            raise EvaluationError(msg) from exc

    def _action(self, ruleset: str, rule: str) -> Callable[[Any], None]:
        # durable-rules wants a plain function of one argument (it counts the arguments).
        def run(closure: Any) -> None:
            try:
                self._record(ruleset, rule, closure)
            except BaseException as exc:  # durable-rules would swallow it into the state
                current = self._current
                (current.errors if current is not None else self._stray).append(exc)

        return run

    def _record(self, ruleset: str, rule: str, closure: Any) -> None:
        current = self._current
        if current is None or current.ruleset != ruleset:
            msg = f"rule {rule!r} of {ruleset!r} ran outside a match (dispatched on its own)"
            raise RuntimeError(msg)
        if closure.m.id != FACT_ID:
            msg = f"rule {rule!r} of {ruleset!r} ran for another fact, {closure.m.id!r}"
            raise RuntimeError(msg)
        if rule == CATCH_ALL:
            current.catch_all += 1
        else:
            current.fired.append(rule)


def _delete_ruleset(handle: int) -> None:
    import durable_rules_engine  # type: ignore[import-untyped,import-not-found,unused-ignore]

    durable_rules_engine.delete_ruleset(handle)


def _delete_all(handles: dict[str, int]) -> None:
    for handle in handles.values():
        _delete_ruleset(handle)
    handles.clear()
