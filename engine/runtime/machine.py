"""The state machine of a process version (the only importer of ``transitions``).

One shared Machine per (process, definition version), built with
``model=None`` and ``auto_transitions=False``; tickets are plain objects with a
``state`` attribute.  No callback is ever given as a string: the transitions
library would import any dotted path it is handed.
"""

from __future__ import annotations

from transitions import Machine, MachineError

from engine.errors import ActionRefused
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


def fire(spec: ProcessSpec, version: str, state: str, action: str) -> str:
    """The state after ``action`` from ``state``; refuses what the machine refuses."""
    machine = machine_for(spec, version)
    subject = _Subject(state)
    try:
        event = machine.events[action]
    except KeyError:
        raise ActionRefused(f"process '{spec.id}' has no action '{action}'") from None
    try:
        event.trigger(subject)
    except MachineError:
        raise ActionRefused(f"action '{action}' is not available in state '{state}'") from None
    return subject.state


def triggers(spec: ProcessSpec, version: str, state: str) -> list[str]:
    return list(machine_for(spec, version).get_triggers(state))
