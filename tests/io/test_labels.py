"""Labels and groups from names: group-only patterns and group suggestions."""

from __future__ import annotations

import pytest

from sndiag.errors import ParameterError
from sndiag.io.labels import Item, assign_labels, suggest_groups


def _kits() -> tuple[list[str], list[str]]:
    names, y = [], []
    for kit in ("acoustic_kit", "808", "jazz_brush"):
        for label in ("kick", "snare"):
            for i in range(4):
                names.append(f"{label}/{kit}__{label}_{i}.wav")
                y.append(label)
    return names, y


def test_drum_kits_in_the_file_names_are_suggested_as_the_group():
    names, y = _kits()
    hint = suggest_groups(names, y)[0]
    assert hint.n_groups == 3 and set(hint.groups) == {"acoustic_kit", "808", "jazz_brush"}
    assert "'__'" in hint.how
    # the pattern, given back as label_regex, reads the same groups and keeps folder labels
    lab = assign_labels([Item(n, b"") for n in names], labels="folder", label_regex=hint.pattern,
                        labels_csv=None)
    assert lab.y == y and lab.groups == list(hint.groups) and not lab.skipped


def test_fsdd_like_names_suggest_the_speaker_before_the_take_number():
    names = [f"{d}_{s}_{n}.wav" for d in "0123" for s in ("george", "jackson", "lucas")
             for n in range(5)]
    hints = suggest_groups(names, [n[0] for n in names])
    assert hints[0].examples[:3] == ["george", "jackson", "lucas"]
    assert all(h.groups != tuple(n[0] for n in names) for h in hints)  # never the label itself


@pytest.mark.parametrize("names", [
    [f"clip_{i}.wav" for i in range(20)],                      # unique ids: no group
    [f"a/x{i}.wav" for i in range(20)],                         # one folder for all
    ["a.wav", "b.wav"],                                         # too few clips
])
def test_no_group_is_invented(names):
    assert suggest_groups(names) == []


def test_a_part_that_holds_one_class_per_value_is_not_a_group():
    names = [f"{c}_{c}x_{i}.wav" for c in ("dog", "cat") for i in range(6)]
    y = [n.split("_")[0] for n in names]
    assert all(h.n_groups != 2 for h in suggest_groups(names, y))


def test_a_pattern_with_neither_label_nor_group_is_refused():
    with pytest.raises(ParameterError, match="no named group 'label'"):
        assign_labels([Item("a.wav", b"")], labels="folder", label_regex=r"(\d)",
                      labels_csv=None)


def test_a_group_only_pattern_skips_names_it_does_not_match():
    items = [Item("dog/ann__1.wav", b""), Item("dog/2.wav", b"")]
    lab = assign_labels(items, labels="folder", label_regex=r"^(?P<group>.+?)__",
                        labels_csv=None)
    assert lab.groups == ["ann"] and [s.name for s in lab.skipped] == ["dog/2.wav"]
