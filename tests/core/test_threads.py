"""torch's thread setting has one owner (core/threads.py): a training and a classification that
overlap must not undo each other's single-threaded section, and the worker pool of prediction
is sized by the machine's setting, not by a section that happens to run."""

from __future__ import annotations

import torch

from landcover_mlp.core import threads


def test_overlapping_sections_restore_only_at_the_last_exit() -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        first, second = threads.single_threaded(torch), threads.single_threaded(torch)
        first.__enter__()
        assert torch.get_num_threads() == 1
        second.__enter__()
        first.__exit__(None, None, None)  # the training ends while a classification runs
        assert torch.get_num_threads() == 1, "the other section still needs one thread"
        assert threads.cpu_threads(torch) == 2, "the machine's setting, not the section's"
        second.__exit__(None, None, None)
        assert torch.get_num_threads() == 2, "the last one out restores the setting"
    finally:
        torch.set_num_threads(before)


def test_a_failing_section_still_restores() -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        try:
            with threads.single_threaded(torch):
                raise ValueError("boom")
        except ValueError:
            pass
        assert torch.get_num_threads() == 2
        assert threads.cpu_threads(torch) == 2
    finally:
        torch.set_num_threads(before)
