"""The pointing game's set, scoring and table (tools/benchmarks)."""
import numpy as np
import pytest

from benchmarks import pointing_game as game


@pytest.fixture(scope='module')
def canvases():
    return game.make_canvases(seed=0)


def test_each_canvas_holds_its_digit_inside_its_box(canvases):
    items = canvases
    assert len(items) == 1797
    counts = {s: sum(i['split'] == s for i in items) for s, _ in game.SPLITS}
    assert counts['train'] > 1000 and counts['test'] > 300
    for item in items[:50]:
        x0, y0, x1, y1 = item['box']
        assert (x1 - x0, y1 - y0) == (game.DIGIT, game.DIGIT)
        assert 0 <= x0 and x1 <= game.CANVAS and 0 <= y0 and y1 <= game.CANVAS
        image = item['image']
        # The noise stays at most NOISE outside the box; the digit's
        # strokes (up to 255) only inside it.
        outside = image.copy()
        outside[y0:y1, x0:x1] = 0
        assert outside.max() <= game.NOISE < image[y0:y1, x0:x1].max()


def test_a_peak_hits_inside_its_box_only():
    box = (10, 20, 50, 60)  # x0, y0, x1, y1
    assert game.in_box((20, 10), box) and game.in_box((59, 49), box)
    assert not game.in_box((60, 30), box) and not game.in_box((30, 50), box)
    assert game.hit_rate([(30, 30), (0, 0)], [box, box]) == 50.0


def test_random_maps_hit_about_as_often_as_the_box_covers_the_canvas(
        canvases):
    items = canvases[:600]
    peaks = game.random_map_peaks(len(items), (3, 3), seed=1)['cell']
    rate = game.hit_rate(peaks, [i['box'] for i in items])
    share = 100.0 * game.DIGIT**2 / game.CANVAS**2
    assert abs(rate - share) < 6


def test_pointing_counts_only_right_predictions():
    items = [dict(label='0', box=(0, 0, 48, 48)),
             dict(label='1', box=(48, 48, 96, 96)),
             dict(label='1', box=(0, 0, 48, 48))]
    scores = np.array([[1, 0], [0, 1], [1, 0]], np.float32)  # 3rd wrong
    maps = np.zeros((3, 2, 3, 3), np.float32)
    maps[0, 0, 0, 0] = 1  # top-left: in the box
    maps[1, 1, 0, 0] = 1  # top-left: not in the bottom-right box
    result = game.pointing(scores, maps, items, ['0', '1'])
    assert result['correct'] == 2 and result['hit'] == 50.0
    assert result['cell_misses'] == 1 and result['cell_misses_on_digit'] == 0


def test_the_peak_region_reads_between_two_high_cells():
    saliency = np.zeros((3, 3), np.float32)
    saliency[1, 1], saliency[1, 2] = 1.0, 0.98  # the max's cell: x 32-64
    y, x = game.peak_region_centre(saliency)
    assert 44 <= y <= 52 and 60 <= x <= 68  # between cells, not on one
    box = (58, 30, 98, 70)  # a digit across cells 1 and 2, centre 48 out
    assert not game.in_box(game.peaks_of([saliency])['cell'][0], box)
    assert game.in_box((y, x), box)
    assert game.cell_overlaps((48, 48), box, (3, 3))


def test_table_renders_from_a_payload():
    run = dict(images=360, correct=340, top1=94.4, hit=85.0,
               hit_region=95.0, cell_misses=51, cell_misses_on_digit=51)
    payload = dict(
        command='python tools/benchmark.py pointing-game', machine='CPU',
        canvas=96, digit=40, noise=100, epochs=30, seed=0, map_shape=[3, 3],
        pytorch=run, ir=dict(run, hit_region=94.0),
        random_map_hit=dict(cell=17.0, region=20.0),
        box_share=17.4, saliency_parity=dict(fp32=dict(
            max_abs_diff_predicted=1e-5, same_peak=100.0, images=359)),
        latency={'1 thread': dict(
            plain=dict(median_ms=1.0, rounds_ms=[1.0] * 5),
            explain=dict(median_ms=1.2, rounds_ms=[1.2] * 5), ratio=1.2)},
        goals=dict(hit=90.0, latency_ratio=1.3))
    text = game.render(payload)
    assert ('| PyTorch | 360 | 340 | 94.4 | 85.0 | 95.0 | missed / met |'
            in text)
    assert '| explain | 1 thread | 1.200 |' in text and 'x1.20 (met)' in text
    assert game.goals_met(payload) == {
        'pytorch_cell': False, 'pytorch_region': True, 'ir_cell': False,
        'ir_region': True, 'latency, 1 thread': True}


@pytest.mark.parametrize('name', [game.result_name(),
                                  game.result_name(128, 64)])
def test_committed_table_renders_from_its_json(name):
    import os.path as osp

    from benchmarks.report import load_report
    from conftest import REPO
    docs = osp.join(REPO, 'docs', 'benchmarks')
    with open(osp.join(docs, f'{name}.md')) as f:
        assert game.render(load_report(docs, name)) == f.read()
