"""engine.desk.replay.link_differences: a ticket's links table rows against the
``link`` changes of its journal (``itsm audit verify``, kind ``link``)."""

from engine.desk.replay import link_differences


def ev(seq, **changes):
    return {"seq": seq, "changes": changes}


def test_links_follow_the_link_changes():
    events = [ev(1), ev(2, link=[None, "follows_up INC-000001"]),
              ev(3, link=["follows_up INC-000001", "follows_up INC-000002"]),
              ev(4, link=[None, "related INC-000003"]), ev(5, link=["related INC-000003", None])]
    assert link_differences(events, [("follows_up", "INC-000002")]) == []
    assert link_differences(events, []) == [
        ("its journal links it to INC-000002 as 'follows_up' (event 3), the links table does not", 3)]
    assert link_differences(events, [("follows_up", "INC-000002"), ("related", "INC-000003")]) == [
        ("the links table links it to INC-000003 as 'related', its journal does not", None)]


def test_a_parent_set_before_links_had_a_table_allows_its_migrated_link():
    """Migration 0011 made a part_of link of every parent; such an event has a
    parent change and no link change. The link is allowed, not required."""
    events = [ev(1), ev(2, parent=[None, "MI-000001"]), ev(3, parent=["MI-000001", "MI-000002"])]
    assert link_differences(events, [("part_of", "MI-000002")]) == []
    assert link_differences(events, []) == []
    assert link_differences(events, [("part_of", "MI-000001")]) == [
        ("the links table links it to MI-000001 as 'part_of', its journal does not", None)]
    # a parent journaled with its link (since 0011) is the link change's
    linked = [ev(1), ev(2, parent=[None, "MI-000001"], link=[None, "part_of MI-000001"])]
    assert link_differences(linked, []) == [
        ("its journal links it to MI-000001 as 'part_of' (event 2), the links table does not", 2)]


def test_malformed_link_changes_are_not_links():
    events = [ev(1, link="part_of MI-000001"), ev(2, link=[None, 42]), ev(3, link=[None, "nospace"])]
    assert link_differences(events, []) == []


def test_the_desk_log_keeps_one_entry_for_events_without_a_key_id() -> None:
    """Events whose key id is NULL (unkeyed, or removed by hand) share one entry:
    one per event made verify quadratic, and past 32,767 overflowed the index."""
    from engine.desk.desklog import DeskLog

    n = 40_000
    log = DeskLog(n)
    t = log.ticket_index("INC-000001")
    for i in range(1, n + 1):
        log.add(i, t, i, "00" * 32, None, None, None if i % 2 else "")
    assert log.key_ids == [""] and not log.findings
