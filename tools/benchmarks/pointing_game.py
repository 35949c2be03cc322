"""Do the saliency maps point at the evidence? The pointing game, and the
latency the maps cost in the IR.

The bundled digits (8x8) are scaled to :data:`DIGIT` px and pasted at a
random position onto a :data:`CANVAS` px canvas of uniform noise; the label
is the pasted digit, the box where it was pasted. ``configs/auto_mbv3.py``
trains on them from scratch (a short fixed budget), then for every test
image the model predicts right, the predicted class's Recipro-CAM map is
upsampled to the canvas and its peak checked against the box, in PyTorch
and in the IR ``tools/deploy.py --explain`` writes (read through
``OpenVINOClassifier``, as a user reads it). A random map's peak, through
the same upsampling, is the baseline (its expected hit rate is about the
box's share of the canvas). Latency: the explain IR against the plain IR
of the same checkpoint, batch 1, interleaved rounds.
"""
import os
import os.path as osp
import statistics
from typing import Callable, Dict, List, Tuple

import numpy as np

NAME = 'pointing_game'
CANVAS = 96
DIGIT = 40
NOISE = 100  # canvas pixels are uniform in [0, NOISE]
SPLITS = (('train', 0.6), ('val', 0.2), ('test', 0.2))
GOAL_HIT = 90.0
# The peak region: where the upsampled map is above this share of its max.
PEAK_LEVEL = 0.5
GOAL_LATENCY_RATIO = 1.3
ROUNDS = 5


def make_canvases(seed: int = 0, canvas: int = CANVAS,
                  digit: int = DIGIT) -> List[Dict]:
    """One canvas per bundled digit: ``dict(split, label, image, box)``,
    the box ``(x0, y0, x1, y1)`` (x1, y1 exclusive); the split drawn per
    class (60/20/20)."""
    import cv2

    from mmtricks.datasets import load_bundled
    digits = load_bundled('digits')
    rng = np.random.default_rng(seed)
    items = []
    for label in np.unique(digits.labels):
        index = rng.permutation(np.flatnonzero(digits.labels == label))
        ends = np.cumsum([round(f * len(index)) for _, f in SPLITS])
        for position, i in enumerate(index):
            split = next((name for (name, _), end in zip(SPLITS, ends)
                          if position < end), SPLITS[-1][0])
            image = rng.integers(0, NOISE + 1, (canvas, canvas),
                                  dtype=np.uint8)
            pasted = cv2.resize(digits.images[i], (digit, digit),
                               interpolation=cv2.INTER_LINEAR)
            x0, y0 = (int(v) for v in rng.integers(0, canvas - digit + 1, 2))
            patch = image[y0:y0 + digit, x0:x0 + digit]
            image[y0:y0 + digit, x0:x0 + digit] = np.maximum(patch, pasted)
            items.append(dict(split=split, label=str(label),
                              image=image,
                              box=(x0, y0, x0 + digit, y0 + digit)))
    return items


def write_folder(root: str, items: List[Dict]) -> None:
    """``root/<split>/<label>/<n>.png`` for every item (a folder the
    recipe trains on); each item gets its ``path``."""
    import cv2
    for n, item in enumerate(items):
        folder = osp.join(root, item['split'], item['label'])
        os.makedirs(folder, exist_ok=True)
        item['path'] = osp.join(folder, f'{n:05d}.png')
        cv2.imwrite(item['path'], item['image'])


def in_box(peak_yx: Tuple[int, int], box) -> bool:
    y, x = peak_yx
    x0, y0, x1, y1 = box
    return x0 <= x < x1 and y0 <= y < y1


def hit_rate(peaks, boxes) -> float:
    """Per cent of ``peaks`` ((y, x) each) inside their box."""
    hits = [in_box(p, b) for p, b in zip(peaks, boxes)]
    return 100.0 * float(np.mean(hits)) if hits else float('nan')


def peak_region_centre(saliency: np.ndarray,
                       canvas: int = CANVAS) -> Tuple[int, int]:
    """``(y, x)``: the centre of mass of the upsampled map where it is
    above :data:`PEAK_LEVEL` of its maximum. At 3x3 the maximum itself can
    only sit on one of 9 cell centres (32 px apart, for a 40 px digit);
    this reads the peak between cells when two neighbours are both high."""
    from mmtricks.deploy.saliency import upsample
    up = upsample(saliency, (canvas, canvas))
    weights = np.clip(up - PEAK_LEVEL * up.max(), 0, None)
    if weights.sum() <= 0:
        return canvas // 2, canvas // 2
    ys, xs = np.mgrid[:canvas, :canvas]
    return (int(round((weights * ys).sum() / weights.sum())),
            int(round((weights * xs).sum() / weights.sum())))


def peaks_of(maps, canvas: int = CANVAS) -> Dict[str, list]:
    """Both readings of each map's peak: ``cell`` (the maximum of the
    bilinearly upsampled map, as the overlays show it) and ``region``
    (:func:`peak_region_centre`)."""
    from mmtricks.deploy.saliency import peak_location
    return dict(cell=[peak_location(m, (canvas, canvas)) for m in maps],
                region=[peak_region_centre(m, canvas) for m in maps])


def random_map_peaks(count: int, map_shape, seed: int = 0,
                     canvas: int = CANVAS):
    """Peaks (both readings) of uniform random maps of ``map_shape``,
    min-max scaled and upsampled as a model's are: the chance level."""
    rng = np.random.default_rng(seed)
    maps = rng.random((count, ) + tuple(map_shape)).astype(np.float32)
    low = maps.min(axis=(1, 2), keepdims=True)
    maps = (maps - low) / (maps.max(axis=(1, 2), keepdims=True) - low)
    return peaks_of(maps, canvas)


def torch_maps(model, items: List[Dict]) -> Tuple[np.ndarray, np.ndarray]:
    """Scores and maps of the PyTorch model on the items, through its own
    data preprocessor."""
    import torch

    from mmtricks.deploy.saliency import explained_model
    explained = explained_model(model)
    scores, maps = [], []
    for start in range(0, len(items), 64):
        chunk = items[start:start + 64]
        tensors = [torch.from_numpy(np.repeat(i['image'][None], 3, 0))
                   for i in chunk]
        inputs = model.data_preprocessor(dict(inputs=tensors),
                                         False)['inputs']
        with torch.no_grad():
            s, m = explained(inputs)
        scores.append(s.numpy())
        maps.append(m.numpy())
    return np.concatenate(scores), np.concatenate(maps)


def pointing(scores, maps, items, class_names,
             canvas: int = CANVAS) -> Dict:
    """The pointing game on the correct predictions, for both readings
    of the peak (:func:`peaks_of`)."""
    predicted = np.asarray(scores).argmax(1)
    correct = [n for n, item in enumerate(items)
               if str(class_names[predicted[n]]) == item['label']]
    peaks = peaks_of([maps[n][predicted[n]] for n in correct], canvas)
    boxes = [items[n]['box'] for n in correct]
    misses = [(p, b, m.shape) for p, b, m in zip(
        peaks['cell'], boxes, [maps[n][predicted[n]] for n in correct])
        if not in_box(p, b)]
    return dict(images=len(items), correct=len(correct),
                top1=100.0 * len(correct) / len(items),
                hit=hit_rate(peaks['cell'], boxes),
                hit_region=hit_rate(peaks['region'], boxes),
                cell_misses=len(misses),
                cell_misses_on_digit=sum(cell_overlaps(*m, canvas)
                                         for m in misses))


def cell_overlaps(peak_yx, box, map_shape, canvas: int = CANVAS) -> bool:
    """Whether the map cell holding ``peak_yx`` overlaps ``box``."""
    step_y, step_x = canvas / map_shape[0], canvas / map_shape[1]
    top = int(peak_yx[0] // step_y) * step_y
    left = int(peak_yx[1] // step_x) * step_x
    x0, y0, x1, y1 = box
    return x0 < left + step_x and left < x1 and y0 < top + step_y and \
        top < y1


#: How each IR is timed: as deployed (OpenVINO's latency hint, every
#: core), and on one inference thread, which another job on the shared CPU
#: disturbs less.
THREADINGS = (('all cores', None), ('1 thread', {'INFERENCE_NUM_THREADS': 1}))


def interleaved_latency(xmls: Dict[str, str], shape, seconds: float
                        ) -> Dict[str, Dict]:
    """Batch-1 latency of each IR under each of :data:`THREADINGS`:
    :data:`ROUNDS` rounds, the models taking turns in each, the median of
    the rounds' medians reported, and explain / plain."""
    from mmtricks.deploy.latency import openvino_latency
    from mmtricks.deploy.openvino_core import shared_core
    core = shared_core()
    models = {name: core.read_model(xml) for name, xml in xmls.items()}
    timed = {}
    for threading, properties in THREADINGS:
        rounds = {name: [] for name in xmls}
        for _ in range(ROUNDS):
            for name, model in models.items():
                rounds[name].append(openvino_latency(
                    core, model, shape, seconds / ROUNDS,
                    properties=properties)['median_ms'])
        timed[threading] = {name: dict(median_ms=statistics.median(r),
                                       rounds_ms=r)
                            for name, r in rounds.items()}
        timed[threading]['ratio'] = timed[threading]['explain'][
            'median_ms'] / timed[threading]['plain']['median_ms']
    return timed


def run_benchmark(epochs: int, seed: int, out_dir: str, work_dir: str,
                  command: str, machine: str,
                  log: Callable[[str], None] = print,
                  latency_seconds: float = 10.0, canvas: int = CANVAS,
                  digit: int = DIGIT) -> Dict:
    """Build the set, train, deploy twice (plain, ``--explain``), play the
    pointing game in PyTorch and in the IR, time both IRs; write
    :func:`result_name` + ``.json`` and ``.md`` into ``out_dir``."""
    from benchmarks.report import write_report
    from benchmarks.runs import bundled_config
    from benchmarks.train import train_and_score

    from mmtricks.deploy import (DeployOptions, OpenVINOClassifier,
                                 deploy_checkpoint)
    from mmtricks.deploy.export import FP32_FILE
    from mmtricks.recipes import resolve_config
    items = make_canvases(seed, canvas, digit)
    data = osp.join(work_dir, 'data')
    write_folder(data, items)
    log(f'{len(items)} canvases written to {data}; training {epochs} epochs')
    cfg = bundled_config(data, epochs, seed, osp.join(work_dir, 'train'),
                         finder=False)
    result, runner = train_and_score(cfg)
    checkpoint = osp.join(runner.work_dir, 'pointing_game.pth')
    runner.save_checkpoint(runner.work_dir, 'pointing_game.pth')
    config = osp.join(runner.work_dir, 'pointing_game_config.py')
    runner.cfg.dump(config)
    deploy_cfg = resolve_config(
        'mmtricks::deploy/classification_openvino_static.py')
    irs, reports = {}, {}
    for name, explain in (('plain', False), ('explain', True)):
        folder = osp.join(work_dir, f'deploy_{name}')
        os.makedirs(folder, exist_ok=True)
        reports[name] = deploy_checkpoint(
            config, checkpoint, folder, deploy_cfg,
            DeployOptions(explain=explain, int8=False, benchmark_seconds=0),
            log=lambda line: None)
        irs[name] = osp.join(folder, FP32_FILE)

    test = [i for i in items if i['split'] == 'test']
    classes = [str(c) for c in runner.model.dataset_meta['classes']] \
        if getattr(runner.model, 'dataset_meta', None) else \
        [str(c) for c in runner.test_dataloader.dataset.metainfo['classes']]
    model = runner.model.eval()
    scores, maps = torch_maps(model, test)
    torch_result = pointing(scores, maps, test, classes, canvas)
    clf = OpenVINOClassifier(irs['explain'])
    predictions = clf.classify([i['path'] for i in test], explain=True)
    ir_scores = np.zeros((len(test), len(clf.class_names)))
    for n, p in enumerate(predictions):
        ir_scores[n, p.index] = 1.0
    ir_maps = np.stack([p.saliency for p in predictions])
    ir_result = pointing(ir_scores, ir_maps, test, clf.class_names, canvas)
    correct = [n for n in range(len(test))
               if classes[int(scores[n].argmax())] == test[n]['label']]
    random_peaks = random_map_peaks(len(correct), maps.shape[2:], seed,
                                    canvas)
    random_hit = {k: hit_rate(v, [test[n]['box'] for n in correct])
                  for k, v in random_peaks.items()}
    latency = interleaved_latency(irs, (1, 3, canvas, canvas),
                                  latency_seconds)
    payload = dict(
        command=command, machine=machine, canvas=canvas, digit=digit,
        noise=NOISE, epochs=epochs, seed=seed,
        map_shape=list(maps.shape[2:]),
        train_test_top1=result['test_top1'],
        pytorch=torch_result, ir=ir_result,
        random_map_hit=random_hit,
        box_share=100.0 * digit * digit / canvas**2,
        saliency_parity=reports['explain']['saliency_parity'],
        latency=latency,
        goals=dict(hit=GOAL_HIT, latency_ratio=GOAL_LATENCY_RATIO))
    write_report(out_dir, result_name(canvas, digit), payload, render)
    return payload


def result_name(canvas: int = CANVAS, digit: int = DIGIT) -> str:
    """``pointing_game``, or ``pointing_game_CANVAS_DIGIT`` for another
    geometry than the default."""
    return NAME if (canvas, digit) == (CANVAS, DIGIT) else \
        f'{NAME}_{canvas}_{digit}'


def goals_met(payload: Dict) -> Dict[str, bool]:
    """Each goal: a hit rate of at least :data:`GOAL_HIT` per model and
    reading of the peak, and the latency ratio."""
    met = {f'{model}_{reading}': payload[model][key] >= GOAL_HIT
           for model in ('pytorch', 'ir')
           for reading, key in (('cell', 'hit'), ('region', 'hit_region'))}
    for threading, timed in payload['latency'].items():
        met[f'latency, {threading}'] = timed['ratio'] <= GOAL_LATENCY_RATIO
    return met


def render(payload: Dict) -> str:
    """The markdown table, from the stored payload alone."""
    met = goals_met(payload)
    fp32 = payload['saliency_parity']['fp32']
    yes = {True: 'met', False: 'missed'}
    cells = 'x'.join(map(str, payload['map_shape']))
    goal = payload['goals']['hit']
    lines = [
        '# Pointing game: do the saliency maps point at the digit?', '',
        f'Bundled digits scaled to {payload["digit"]} px, pasted at a random '
        f'position on a {payload["canvas"]} px canvas of uniform noise '
        f'(0-{payload["noise"]}); `configs/auto_mbv3.py` from scratch, '
        f'{payload["epochs"]} epochs (seed {payload["seed"]}); Recipro-CAM '
        f'maps of {cells} (stride 32), upsampled bilinearly to the canvas. '
        "A hit: the peak of the predicted class's map lies inside the "
        "pasted digit's box; counted on the test images predicted right. "
        'Two readings of the peak: **cell**, the maximum of the upsampled '
        f'map, which at {cells} can only be one of the cell centres (32 px '
        f'apart, for a {payload["digit"]} px digit); **region**, the centre '
        'of mass of the upsampled map where it is above half its maximum '
        '(between two cells when both are high).', '',
        f'| model | test images | predicted right | top-1 (%) | hit, cell '
        f'(%) | hit, region (%) | goal >= {goal:g}% (cell / region) |',
        '| --- | --- | --- | --- | --- | --- | --- |']
    for key, label in (('pytorch', 'PyTorch'), ('ir', 'OpenVINO IR (FP32, '
                                                     '`--explain`)')):
        r = payload[key]
        lines.append(
            f'| {label} | {r["images"]} | {r["correct"]} | {r["top1"]:.1f} | '
            f'{r["hit"]:.1f} | {r["hit_region"]:.1f} | '
            f'{yes[met[key + "_cell"]]} / {yes[met[key + "_region"]]} |')
    rand = payload['random_map_hit']
    lines += [
        f'| random map (same upsampling) | | {payload["pytorch"]["correct"]}'
        f' | | {rand["cell"]:.1f} | {rand["region"]:.1f} | |', '',
        f'The box covers {payload["box_share"]:.1f}% of the canvas. Of the '
        f'{payload["pytorch"]["cell_misses"]} PyTorch cell misses, '
        f'{payload["pytorch"]["cell_misses_on_digit"]} peak in a cell the '
        'digit overlaps (the map points at the digit; the grid cannot place '
        "the peak inside its box). The IR's maps against PyTorch on val "
        '(deploy\'s check): predicted-class maps within '
        f'{fp32["max_abs_diff_predicted"]:.1e} (tolerance 0.02), the same '
        f'peak cell on {fp32["same_peak"]:.1f}% of {fp32["images"]} '
        'images.', '',
        '## Latency of the IR with the saliency output', '',
        f'| IR (FP32), batch 1 | threads | median of {ROUNDS} rounds (ms) '
        f'| rounds (ms) | explain / plain (goal <= '
        f'x{payload["goals"]["latency_ratio"]:g}) |',
        '| --- | --- | --- | --- | --- |']
    for threading, timed in payload['latency'].items():
        for name in ('plain', 'explain'):
            r = timed[name]
            ratio = (f'x{timed["ratio"]:.2f} '
                     f'({yes[met["latency, " + threading]]})'
                     if name == 'explain' else '')
            lines.append(
                f'| {name} | {threading} | {r["median_ms"]:.3f} | '
                + ', '.join(f'{v:.3f}' for v in r['rounds_ms'])
                + f' | {ratio} |')
    lines += [
        '',
        f'Machine: {payload["machine"]}; the CPU was shared with other jobs '
        'while this ran, so latencies are interleaved rounds, not one '
        'sitting each.', '', f'Command: `{payload["command"]}`', '']
    return '\n'.join(lines)
