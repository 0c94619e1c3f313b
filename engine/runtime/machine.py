"""The state machine of a process version (the only importer of ``transitions``).

One shared Machine per (process, definition version), built with
``model=None`` and ``auto_transitions=False``; tickets are plain objects with a
``state`` attribute.  No callback is ever given as a string: the transitions
library would import any dotted path it is handed.
"""

from __future__ import annotations

from transitions import Machine, MachineError

from engine.errors import ActionRefused
from engine.i18n import N_, Said, message
from engine.model import ProcessSpec


_MACHINES: dict[tuple[str, str, str], Machine] = {}


def machine_for(spec: ProcessSpec, version: str) -> Machine:
    key = (spec.id, version, spec.sha256)
    machine = _MACHINES.get(key)
    if machine is None:
        transitions = [{"trigger": a.id, "source": list(a.sources), "dest": a.target}
                       for a in spec.actions.values() if a.sources]
        machine = Machine(model=None, states=list(spec.states), transitions=transitions,
                          initial=spec.initial.id, auto_transitions=False, send_event=True,
                          ignore_invalid_triggers=False)
        _MACHINES[key] = machine
    return machine


class _Subject:
    """What the machine moves: only a state."""

    def __init__(self, state: str) -> None:
        self.state = state


# What the machine answered, per (process, version, hash, state, action): a shared
# machine has no callbacks or conditions, so its answer depends on nothing else.
_FIRED: dict[tuple[str, str, str, str, str], tuple[str | None, str | None]] = {}


def fire(spec: ProcessSpec, version: str, state: str, action: str) -> str:
    """The state after ``action`` from ``state``; refuses what the machine refuses."""
    key = (spec.id, version, spec.sha256, state, action)
    answer = _FIRED.get(key)
    if answer is None:
        answer = _fire(spec, version, state, action)
        if len(_FIRED) >= 4096:
            _FIRED.clear()
        _FIRED[key] = answer
    target, refusal = answer
    if target is None:
        raise ActionRefused(refusal or "")
    return target


def _fire(spec: ProcessSpec, version: str, state: str, action: str) -> tuple[str | None, Said | None]:
    """(the state after the action, None) or (None, why the machine refuses it)."""
    machine = machine_for(spec, version)
    subject = _Subject(state)
    try:
        event = machine.events[action]
    except KeyError:
        return None, message(N_("process '{process}' has no action '{action}'"),
                             process=spec.id, action=action)
    try:
        event.trigger(subject)
    except MachineError:
        return None, message(N_("action '{action}' is not available in state '{state}'"), action=action,
                             state=state)
    return subject.state, None


def triggers(spec: ProcessSpec, version: str, state: str) -> list[str]:
    return list(machine_for(spec, version).get_triggers(state))
