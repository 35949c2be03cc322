"""The duplicate benchmark's plant, threshold rule and pair sorting, on
tiny inputs (no folder written, nothing timed)."""
import io

import numpy as np
from PIL import Image

from benchmarks import duplicates as bench

SPLITS = {'train': list(range(0, 60)), 'val': list(range(60, 80)),
          'test': list(range(80, 100))}


def test_copies_go_to_a_later_split_from_distinct_sources():
    plan = bench.plan_copies(SPLITS, dict(exact=6, near=9, crop=3), seed=0,
                             exclude=range(10))
    assert [c['group'] for c in plan] == ['exact'] * 6 + ['near'] * 9 + \
        ['crop'] * 3
    assert [c['kind'] for c in plan[6:9]] == list(bench.NEAR_KINDS)
    sources = [c['source'] for c in plan]
    assert len(set(sources)) == len(sources) and min(sources) >= 10
    order = {'train': 0, 'val': 1, 'test': 2}
    for copy in plan:
        assert copy['source'] in SPLITS[copy['source_split']]
        assert order[copy['source_split']] < order[copy['target_split']]
    assert plan == bench.plan_copies(SPLITS, dict(exact=6, near=9, crop=3),
                                     seed=0, exclude=range(10))


def test_copy_files_are_what_the_plan_says():
    image = np.arange(100 * 80, dtype=np.uint8).reshape(80, 100)
    base = dict(scale=0.5, quality=40, crop=0.05)
    resized = Image.open(io.BytesIO(bench.copy_bytes(
        image, dict(base, kind='resized'))))
    assert resized.format == 'PNG' and resized.size == (50, 40)
    both = Image.open(io.BytesIO(bench.copy_bytes(
        image, dict(base, kind='resized+jpeg'))))
    assert both.format == 'JPEG' and both.size == (50, 40)
    crop = Image.open(io.BytesIO(bench.copy_bytes(image,
                                                  dict(base, kind='crop'))))
    assert crop.size == (90, 72)


def test_the_threshold_is_the_smallest_that_reaches_the_recall():
    distances = list(range(20))  # 0..19
    assert bench.choose_threshold(distances, 0.95) == 18
    assert bench.choose_threshold(distances, 1.0) == 19
    assert bench.choose_threshold([4] * 10, 0.95) == 4


def pair(first, second, kind='near', distance=3):
    return dict(kind=kind, distance=distance, first=dict(image=first),
                second=dict(image=second))


def test_pairs_are_sorted_into_planted_natural_twin_and_false():
    copy = dict(source=1, kind='jpeg', group='near')
    files = {'a': dict(source=1, copy=None), 'b': dict(source=2, copy=None),
             'c': dict(source=3, copy=None), 'd': dict(source=4, copy=None),
             'copy_a': dict(source=1, copy=copy)}
    same = {frozenset((1, 2))}  # 1 and 2 show the same content

    def same_content(x, y):
        return frozenset((x, y)) in same

    sorted_pairs = bench.classify_pairs(
        [pair('a', 'copy_a'), pair('a', 'b'), pair('b', 'copy_a'),
         pair('c', 'd'), pair('c', 'copy_a')], files, same_content)
    assert [p['second']['image'] for p, _ in sorted_pairs['found']] == \
        ['copy_a']
    assert sorted_pairs['natural'] == [pair('a', 'b')]
    assert sorted_pairs['through_twin'] == [pair('b', 'copy_a')]
    assert sorted_pairs['false'] == [pair('c', 'd'), pair('c', 'copy_a')]
    recall = bench.recall_by_kind(
        [copy, dict(source=5, kind='resized', group='near')],
        sorted_pairs['found'])
    assert recall['near'] == dict(planted=2, found=1, recall=0.5)
    assert recall['jpeg']['found'] == 1 and recall['resized']['found'] == 0


def test_an_exact_copy_found_only_as_near_is_not_counted():
    copy = dict(source=1, kind='exact', group='exact')
    found = [(pair('a', 'copy', 'near'), copy)]
    assert bench.recall_by_kind([copy], found)['exact']['found'] == 0
    assert bench.recall_by_kind([copy], [(pair('a', 'copy', 'exact'),
                                          copy)])['exact']['recall'] == 1.0


def test_correlation_judges_content_not_brightness():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 200, (30, 30)).astype(np.uint8)
    assert bench.correlation(image, image + 40) > 0.999
    other = rng.integers(0, 200, (30, 30)).astype(np.uint8)
    assert abs(bench.correlation(image, other)) < 0.3
