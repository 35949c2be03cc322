"""Counts of image sizes and modes per split, and their log line."""
from collections import Counter
from typing import Dict, List, Sequence, Tuple

import numpy as np

from .duplicates import split_rank
from .image_signatures import ImageSignature


def _size_name(size: Tuple[int, int]) -> str:
    return f'{size[0]}x{size[1]}'


def image_statistics(splits: Sequence[str],
                     signatures: Sequence[ImageSignature]) -> Dict:
    """Counts of image sizes (``'WxH'``) and PIL modes, per split and over
    all (``'all'``), most common first; and the smallest, median and
    largest width and height over all."""
    def summary(chosen):
        sizes = Counter(_size_name(signatures[i].size) for i in chosen)
        modes = Counter(signatures[i].mode for i in chosen)
        return dict(images=len(chosen), sizes=dict(sizes.most_common()),
                    modes=dict(modes.most_common()))

    by_split: Dict[str, List[int]] = {}
    for index, split in enumerate(splits):
        by_split.setdefault(split, []).append(index)
    stats = {split: summary(by_split[split])
             for split in sorted(by_split, key=split_rank)}
    stats['all'] = summary(range(len(signatures)))
    if signatures:
        widths = np.array([s.size[0] for s in signatures])
        heights = np.array([s.size[1] for s in signatures])
        stats['all'].update(
            width=dict(min=int(widths.min()), median=int(np.median(widths)),
                       max=int(widths.max())),
            height=dict(min=int(heights.min()),
                        median=int(np.median(heights)),
                        max=int(heights.max())))
    return stats


def statistics_line(stats: Dict) -> str:
    """One log line of :func:`image_statistics`."""
    every = stats['all']
    total = every['images']
    parts = ', '.join(f'{split} {summary["images"]:,}'
                      for split, summary in stats.items() if split != 'all')
    if not total:
        return 'Images: none.'
    if len(every['sizes']) == 1:
        sizes = f'all {next(iter(every["sizes"]))}'
    else:
        common, times = next(iter(every['sizes'].items()))
        sizes = (f'{len(every["sizes"]):,} sizes from '
                 f'{every["width"]["min"]}x{every["height"]["min"]} to '
                 f'{every["width"]["max"]}x{every["height"]["max"]} '
                 f'(median {every["width"]["median"]}x'
                 f'{every["height"]["median"]}; most common {common}: '
                 f'{times:,})')
    modes = ', '.join(f'{mode} {count:,}'
                      for mode, count in every['modes'].items())
    mixed = ''
    if len(every['modes']) > 1:
        mixed = ('; mixed: training reads each as 3-channel colour (alpha '
                 'dropped)')
    return f'Images: {total:,} ({parts}); {sizes}; modes {modes}{mixed}.'
