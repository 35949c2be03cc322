"""The stages of progressive resizing over the epoch budget: which epoch
trains at which fraction of the full image size.

Pure functions that :class:`~mmtricks.hooks.ProgressiveResizingHook` (which
rescales the pipeline) and
:class:`~mmtricks.optim.scheduler.ProgressiveResizingLR` (which changes the
LR at full size) share, so that both switch at the same epochs.
"""
from typing import List, Sequence

STAGE_KEYS = {'until', 'scale'}


def check_stages(stages: Sequence[dict]) -> List[dict]:
    """Validated copy of ``stages``: ``until`` increasing in (0, 1),
    ``scale`` in (0, 1]."""
    if not stages:
        raise ValueError('ProgressiveResizingHook needs at least one stage, '
                         'e.g. stages=[dict(until=0.5, scale=0.5)].')
    checked, previous = [], 0.0
    for stage in stages:
        if not isinstance(stage, dict) or set(stage) != STAGE_KEYS:
            raise ValueError(
                f'Each progressive-resizing stage is dict(until=..., '
                f'scale=...), got {stage!r}.')
        until, scale = stage['until'], stage['scale']
        if not previous < until < 1:
            raise ValueError(
                f'Stage `until` values must increase strictly within (0, 1) '
                f'(fractions of max_epochs; full resolution follows the '
                f'last), got {until} after {previous}.')
        if not 0 < scale <= 1:
            raise ValueError(
                f'Stage `scale` must be in (0, 1] (a fraction of the full '
                f'image size), got {scale}.')
        checked.append(dict(until=float(until), scale=float(scale)))
        previous = until
    return checked


def switch_epochs(stages: Sequence[dict], max_epochs: int) -> List[int]:
    """First epoch (0-based) after each stage: ``round(until * max_epochs)``.

    Raises:
        ValueError: when ``max_epochs`` is too small to give every stage,
            and the full-resolution stage, at least one epoch.
    """
    ends = [int(round(stage['until'] * max_epochs)) for stage in stages]
    bounds = [0] + ends + [max_epochs]
    if any(b <= a for a, b in zip(bounds, bounds[1:])):
        raise ValueError(
            f'With max_epochs={max_epochs} the progressive-resizing stages '
            f'{list(stages)} end at epochs {ends}: every stage and the final '
            'full-resolution stage need at least one epoch. Use fewer stages '
            'or more epochs.')
    return ends


def stage_index(epoch: int, ends: Sequence[int]) -> int:
    """Index of the stage that trains epoch ``epoch`` (``len(ends)`` = full
    resolution)."""
    return next((i for i, end in enumerate(ends) if epoch < end), len(ends))
