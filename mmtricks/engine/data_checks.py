"""Checks of the data before training, one log line each, the detail in
``data_checks.json`` in the work dir.

- **Duplicates** within and across train / val / test: exact (same file
  bytes) and near (perceptual hash) pairs
  (:mod:`mmtricks.datasets.duplicates`). An image of val or test with a
  twin in an earlier split (train < val < test) makes that split's numbers
  a test of memory. The top-level setting ``cross_split_duplicates`` says
  what then happens:

  - ``'warn'`` (default): one warning line; training goes on;
  - ``'error'``: the run stops, naming the pairs file and the fixes;
  - ``'drop'``: the later copy of each pair leaves its split (through the
    dataset's ``indices``, so the work dir's config serves the same
    images); train is never changed;
  - ``'off'``: no check (nothing is read).

  ``near_duplicate_distance`` (default
  :data:`~mmtricks.datasets.duplicates.NEAR_MAX_DISTANCE`) is the largest
  Hamming distance of a near pair; -1 checks exact duplicates only.
- **Image sizes and modes** of every split (counts).

Everything is a pure function of the files and the config, computed the
same on every rank (the hash is exact integer arithmetic), so every rank of
a distributed run keeps the same images without talking.
"""
import json
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from ..datasets.duplicates import (HASH_BITS, NEAR_MAX_DISTANCE, SPLIT_ORDER,
                                   DuplicatePair, find_duplicates,
                                   image_signatures, is_cross_split,
                                   later_copies, pair_counts)
from ..datasets.image_statistics import image_statistics, statistics_line
from ..datasets.small_image_pairs import (COARSE_MAX_DISTANCE, SMALL_SIDE,
                                          SMALL_MIN_CORRELATION)
from ..datasets.split_images import SplitImages, leave_out, split_images

SETTING = 'cross_split_duplicates'
MODES = ('warn', 'error', 'drop', 'off')
DISTANCE_SETTING = 'near_duplicate_distance'
#: The detail's file, in the work dir.
FILE_NAME = 'data_checks.json'
LOADERS = {'train': 'train_dataloader', 'val': 'val_dataloader',
           'test': 'test_dataloader'}
#: Pairs listed in the JSON at most (cross-split ones first); counts are
#: always complete.
MAX_LISTED_PAIRS = 10000


class CrossSplitDuplicateError(ValueError):
    """Images of val or test that duplicate an earlier split's, with
    ``cross_split_duplicates='error'``."""


@dataclass
class DataChecks:
    """What the checks found.

    Attributes:
        detail: What :data:`FILE_NAME` holds (empty when the checks are
            off).
        summary: The arguments of the duplicates' log line but the
            file's place.
    """
    detail: Dict = field(default_factory=dict)
    summary: Dict = field(default_factory=dict)

    def lines(self, where: str) -> List[Tuple[str, str]]:
        """``(level, text)`` of each log line (``'info'`` or
        ``'warning'``); ``where``: the detail's file, or why there is
        none."""
        if not self.detail:
            return [('info', f"Data checks: off ({SETTING}='off').")]
        return [_duplicates_line(where=where, **self.summary),
                ('info', statistics_line(self.detail['images']))]


def check_settings(cfg) -> Tuple[str, int]:
    """``(mode, max distance)`` of the config, checked."""
    mode = cfg.get(SETTING, 'warn')
    if mode not in MODES:
        raise ValueError(
            f'{SETTING}={mode!r}: choose one of {", ".join(map(repr, MODES))}'
            ' (docs/data.md, "Duplicates").')
    distance = cfg.get(DISTANCE_SETTING, NEAR_MAX_DISTANCE)
    if isinstance(distance, bool) or not isinstance(distance, int) or \
            not -1 <= distance <= HASH_BITS:
        raise ValueError(
            f'{DISTANCE_SETTING}={distance!r}: give an integer from 0 to '
            f'{HASH_BITS} (bits of the perceptual hash; -1 for exact '
            f'duplicates only; default {NEAR_MAX_DISTANCE}).')
    return mode, distance


def _loader_dataset(cfg, loader: str) -> Optional[dict]:
    dataloader = cfg.get(loader)
    if not isinstance(dataloader, dict) or \
            not isinstance(dataloader.get('dataset'), dict):
        return None
    return dataloader['dataset']


def _counts_text(counts: Dict[str, int]) -> str:
    return ', '.join(f'{name} {count:,}' for name, count in counts.items())


def _pair_detail(pair: DuplicatePair, names: Sequence[str],
                 splits: Sequence[str]) -> Dict:
    detail = dict(kind=pair.kind, distance=pair.distance,
                  first=dict(split=splits[pair.first],
                             image=names[pair.first]),
                  second=dict(split=splits[pair.second],
                              image=names[pair.second]))
    if pair.correlation is not None:  # small images, found by their pixels
        detail['correlation'] = pair.correlation
    return detail


def write_detail(work_dir: Optional[str], detail: Dict) -> Optional[str]:
    """Write ``detail`` to the work dir's :data:`FILE_NAME` whole or not at
    all (every rank may write it; they write the same); its path."""
    if not work_dir:
        return None
    os.makedirs(work_dir, exist_ok=True)
    path = osp.join(work_dir, FILE_NAME)
    partial = osp.join(work_dir, f'.{FILE_NAME}.{os.getpid()}.partial')
    with open(partial, 'w') as f:
        json.dump(detail, f, indent=1)
    os.replace(partial, path)
    return path


def run_data_checks(cfg, threads: Optional[int] = None) -> DataChecks:
    """Run the checks on the images ``cfg``'s loaders serve; with
    ``cross_split_duplicates='drop'``, leave the later copies out of
    ``cfg`` (in place). Nothing is written, but with ``'error'``: the
    detail then goes to ``cfg.work_dir`` before the error names it.

    Args:
        cfg: The run's config, its data placeholders filled.
        threads: Decoding threads (default: one per usable CPU).

    Raises:
        CrossSplitDuplicateError: ``'error'`` and pairs across splits.
        ValueError: A setting out of range.
    """
    mode, distance = check_settings(cfg)
    if mode == 'off':
        return DataChecks()
    served: List[Tuple[str, SplitImages]] = []
    aliases: Dict[str, str] = {}
    for split in SPLIT_ORDER:
        dataset = _loader_dataset(cfg, LOADERS[split])
        if dataset is None:
            continue
        images = split_images(dataset, split)
        twin = next((earlier.split for _, earlier in served
                     if earlier.names == images.names), None)
        if twin is not None:  # e.g. a test loader that reads val
            aliases[split] = twin
            continue
        served.append((split, images))
    names, splits, sources = [], [], []
    for split, images in served:
        for name, source in zip(images.names, images.sources):
            if source is not None:
                names.append(name)
                splits.append(split)
                sources.append(source)
    unread = sum(len(images.names) for _, images in served) - len(names)
    signatures = image_signatures(sources, threads)
    pairs = find_duplicates(splits, signatures, distance)
    stats = image_statistics(splits, signatures)
    cross = [p for p in pairs if is_cross_split(p, splits)]
    within = [p for p in pairs if not is_cross_split(p, splits)]
    counts = pair_counts(pairs, splits)
    detail = dict(
        duplicates=dict(
            setting=mode,
            method=dict(
                exact='same file bytes (BLAKE2b-128); in-memory images: '
                'same pixels',
                near=f'DCT pHash of a 64x64 grey thumbnail, {HASH_BITS} '
                f'bits; pairs within {distance} bits (Hamming); and, where '
                f'the smaller image is under {SMALL_SIDE} px, pairs whose '
                f'64-bit coarse hashes are within {COARSE_MAX_DISTANCE} bits '
                'and whose grey pixels, at the smaller image\'s side, '
                f'correlate at least {SMALL_MIN_CORRELATION} ("correlation")'
                if distance >= 0 else 'off',
                later='train < val < test'),
            near_duplicate_distance=distance,
            images={split: len(images.names) for split, images in served},
            same_images_as=aliases, not_checked=unread,
            counts=counts, cross_split_pairs=len(cross),
            within_split_pairs=len(within),
            pairs=[_pair_detail(p, names, splits)
                   for p in (cross + within)[:MAX_LISTED_PAIRS]],
            pairs_listed=min(len(pairs), MAX_LISTED_PAIRS)),
        images=stats)
    dropped = {}
    if mode == 'drop' and cross:
        dropped = _drop_later_copies(cfg, served, aliases,
                                     later_copies(pairs, splits))
        detail['duplicates']['dropped'] = dropped
    if mode == 'error' and cross:
        where = write_detail(cfg.get('work_dir'), detail) or \
            'no file (no work_dir)'
        raise CrossSplitDuplicateError(_error_message(
            cross, counts, names, splits, where))
    return DataChecks(detail, dict(
        mode=mode, cross=cross, within=within, counts=counts,
        distance=distance, dropped=dropped, aliases=aliases, unread=unread))


def _cross_counts(counts: Dict[str, Dict[str, int]]) -> Dict[str, int]:
    merged: Dict[str, int] = {}
    for kind in ('exact', 'near'):
        for name, count in counts[kind].items():
            first, second = name.split('/')
            if first != second:
                merged[name] = merged.get(name, 0) + count
    return {name: merged[name] for name in sorted(
        merged, key=lambda n: [SPLIT_ORDER.index(s) for s in n.split('/')])}


def _plural(count: int, noun: str) -> str:
    return f'{count:,} {noun}' + ('' if count == 1 else 's')


def _kinds_text(pairs: Sequence[DuplicatePair]) -> str:
    """``'3 pairs (1 exact, 2 near'``: left open for more."""
    exact = sum(p.kind == 'exact' for p in pairs)
    return (f'{_plural(len(pairs), "pair")} ({exact:,} exact, '
            f'{len(pairs) - exact:,} near')


def _duplicates_line(mode, cross, within, counts, distance, dropped,
                     aliases, unread, where: str) -> Tuple[str, str]:
    notes = ''.join(f'; {split} reads the same images as {twin}'
                    for split, twin in aliases.items())
    if unread:
        notes += (f'; {unread:,} images not checked (their dataset gives '
                  'no file or array)')
    within_text = f'{len(within):,} within a split'
    if not cross:
        return 'info', (
            f'Duplicates: no pair across splits, {within_text} (exact: '
            f'same bytes; near: hash within {distance}/{HASH_BITS} bits)'
            f'{notes}: {where}')
    found = (f'Duplicates: {_kinds_text(cross)}; '
             f'{_counts_text(_cross_counts(counts))}) across splits, '
             f'{within_text}')
    if mode == 'drop':
        return 'warning', (
            f'{found}; dropped the later copy of each from its split '
            f'({_counts_text({s: len(d) for s, d in dropped.items()})} '
            f'images; {SETTING}=\'drop\'; train '
            f'is never changed){notes}: {where}')
    return 'warning', (
        f"{found}; kept ({SETTING}='warn'): val/test numbers may be "
        f"inflated; 'drop' leaves the later copies out, 'error' stops"
        f'{notes}: {where}')


def _error_message(cross, counts, names, splits, where) -> str:
    example = cross[0]
    return (
        f'Duplicates across splits: {_kinds_text(cross)}; '
        f'{_counts_text(_cross_counts(counts))}), listed in {where} '
        f'(e.g. {splits[example.first]} {names[example.first]} and '
        f'{splits[example.second]} {names[example.second]}, '
        f'{example.kind}). Delete the later copy of each pair (its val or '
        f"test image), or set {SETTING}='drop' to leave them out of val "
        f"and test, or 'warn' to train with them.")


def _drop_later_copies(cfg, served, aliases, later
                       ) -> Dict[str, List[str]]:
    """Leave the images ``later`` (indices into the checked images) out
    of their loaders' configs (and of a loader that reads the same
    images); the images that left each split."""
    first_of = {}
    offset = 0
    for split, images in served:
        first_of[split] = offset
        offset += sum(source is not None for source in images.sources)
    dropped: Dict[str, List[str]] = {}
    for split, images in served:
        readable = [i for i, source in enumerate(images.sources)
                    if source is not None]
        start = first_of[split]
        mine = [readable[i - start] for i in later
                if start <= i < start + len(readable)]
        if not mine:
            continue
        if len(mine) == len(images.names):
            raise CrossSplitDuplicateError(
                f"{SETTING}='drop' would leave the {split} split empty: "
                f'every one of its {len(mine):,} images duplicates an '
                'earlier split. Give it images of its own.')
        for loader_split in [split] + [s for s, twin in aliases.items()
                                       if twin == split]:
            leave_out(_loader_dataset(cfg, LOADERS[loader_split]), images,
                      mine)
        dropped[split] = [images.names[i] for i in mine]
    return dropped


__all__ = ['CrossSplitDuplicateError', 'DataChecks', 'FILE_NAME', 'MODES',
           'SETTING', 'DISTANCE_SETTING', 'check_settings', 'run_data_checks',
           'write_detail']
