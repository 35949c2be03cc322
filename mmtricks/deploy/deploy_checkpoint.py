"""Checkpoint to verified OpenVINO IR: the pipeline, stage by stage.

1. :mod:`.prepare` and :mod:`.inputs`: the config made concrete for the
   checkpoint, the checkpoint loaded and fitted strictly to the model;
2. :mod:`.export`: MMDeploy's ONNX export and OpenVINO conversion (the FP32
   IR, with class names and preprocessing in it), checked against PyTorch on
   the validation set (:mod:`.parity`, :mod:`.samples`);
3. the other precision candidates: the FP32 IR run at BF16 where the CPU has
   it, NNCF INT8 (:mod:`.quantize`, with accuracy control when plain
   quantization loses too many of val's tuning images), each checked the
   same way, on every image set (val's tuning and judging halves, test,
   label-free training images);
4. :mod:`.latency`: each timed on the CPU, in rounds;
5. :mod:`.report`: the fastest candidate shown within the accuracy
   tolerance on images that made no choice about it, and faster beyond the
   rounds' spread, recommended (:mod:`.precision`), and the report
   written.

Everything is written to a staging folder first and moved into ``work_dir``
only when the whole run succeeded, so a failed run leaves an existing model
where it was (the failed run's files go to ``work_dir/failed_deploy``). A
successful run then removes the candidates an earlier deploy left that it
did not make again (``end2end_int8.xml`` after ``--no-int8``), so that
every IR in ``work_dir`` comes from the checkpoint the report names (its
path and sha256, also recorded in each IR).
"""
import os
import os.path as osp
import shutil
import tempfile
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

import torch

from .export import (convert_to_ir, export_explained_onnx, export_onnx,
                     ir_info, remove_ir, save_at_precision, stale_candidates)
from .inputs import build_checked_model, check_work_dir, file_sha256
from .latency import benchmark_models
from .model_info import SALIENCY_KEY, operating_point_extra
from .openvino_core import shared_core
from .options import DeployOptions, available_candidates
from .parity import (ir_scores, parity_failures, parity_report,
                     predicted_scores)
from .precision import Candidate
from .prepare import prepare_configs
from .quantize import int8_candidate
from .report import recommend, write_report
from .saliency import SALIENCY_METHOD, saliency_checks
from .samples import (CHOICE_SPLIT, preprocessed_batches,
                      resolve_report_split, select, training_images,
                      tuning_and_judging)

# The label-free images' name among the image sets an IR is checked on.
LABEL_FREE = 'label_free'


class ParityError(RuntimeError):
    """The FP32 IR does not predict what the PyTorch model predicts."""


def _print(message: str) -> None:
    print(message, flush=True)


@dataclass
class Deployment:
    """What one deployment works from: the prepared configs, the checked
    PyTorch model and the choices made before any file is written."""

    model_cfg: object
    deploy_cfg: object
    task_processor: object
    torch_model: torch.nn.Module
    saved: dict
    checkpoint: str
    checkpoint_sha256: str
    options: DeployOptions
    candidates: List[str]
    skipped: Dict[str, str]
    report_split: str
    log: Callable[[str], None]


def run(job: Deployment, folder: str) -> Dict:
    """Every stage of ``job``, writing into ``folder``; returns the report
    (also written there).

    Raises:
        ParityError: The FP32 IR breaks ``job.options.tolerances()``.
    """
    core, options, log = shared_core(), job.options, job.log
    # --explain: the wrapped model's own export, once the shape is known.
    onnx_file = None if options.explain else export_onnx(
        job.model_cfg, job.deploy_cfg, job.checkpoint, options.device,
        folder, log)
    pre = job.torch_model.data_preprocessor
    batches, dataset_classes = preprocessed_batches(
        job.model_cfg, CHOICE_SPLIT, pre, options.parity_images)
    shown = {CHOICE_SPLIT: batches}
    if job.report_split != CHOICE_SPLIT:
        shown[job.report_split] = preprocessed_batches(
            job.model_cfg, job.report_split, pre, options.parity_images)[0]
    calibration, label_free = training_images(
        job.model_cfg, pre,
        options.calibration_images if 'int8' in job.candidates else 0,
        options.label_free_images)
    if label_free:
        shown[LABEL_FREE] = label_free
    class_names = (job.saved.get('meta', {}).get('dataset_meta', {})
                   .get('classes') or dataset_classes)
    shape = tuple(batches[0][0].shape[1:])
    info = ir_info(job.model_cfg, class_names, shape, job.checkpoint,
                   job.checkpoint_sha256)
    # A 2-class model's threshold (DataAwareClassifier): into the IR, and
    # both sides of every parity check predict at it.
    point = getattr(job.torch_model, 'operating_threshold', (None, None))
    info['extra'].update(operating_point_extra(*point))
    if options.explain:
        onnx_file = export_explained_onnx(job.torch_model, shape,
                                          job.deploy_cfg, folder, log)
        info['extra'][SALIENCY_KEY[1]] = SALIENCY_METHOD
    files = dict(onnx=onnx_file)
    files['fp32'] = convert_to_ir(core, osp.join(folder, onnx_file), folder,
                                  job.deploy_cfg, info, log)

    images = sum(len(b[1]) for b in batches)
    log(f'Parity check on {images} {CHOICE_SPLIT} images ...')
    references = {name: predicted_scores(job.torch_model, b)
                  for name, b in shown.items()}
    halves = dict(zip(('tuning', 'judging'), tuning_and_judging(images)))

    def evaluate(xml: str) -> Dict[str, Dict]:
        """The IR against PyTorch on every image set: all of val, its
        tuning and judging halves, the report split, the label-free
        images."""
        scores = ir_scores(job.task_processor, xml, shown)
        checks = {name: parity_report(references[name][0], scores[name],
                                      references[name][1], point)
                  for name in shown}
        reference, labels = references[CHOICE_SPLIT]
        for name, positions in halves.items():
            checks[name] = parity_report(reference[positions],
                                         scores[CHOICE_SPLIT][positions],
                                         labels[positions], point)
        return checks

    report = new_report(job, shape, images, class_names)
    if point[0] is not None:
        report['operating_point'] = operating_point_numbers(
            point, class_names, {name: references[name] for name in shown
                                 if name != LABEL_FREE})
    report['image_roles'] = image_roles(
        job, {name: len(p) for name, p in halves.items()},
        len(calibration), references)
    checks = {'fp32': evaluate(files['fp32'])}
    report['parity']['fp32'] = checks['fp32'][CHOICE_SPLIT]
    failures = parity_failures(report['parity']['fp32'],
                               **options.tolerances())
    if failures:
        write_report(folder, report)
        raise ParityError('The FP32 IR does not match PyTorch: '
                          + '; '.join(failures) + '.')

    if 'bf16' in job.candidates:
        files['bf16'] = save_at_precision(core, files['fp32'], folder,
                                          'bf16')
        checks['bf16'] = evaluate(files['bf16'])
    # INT8 is judged on the odd half of val when the even half may choose
    # (whether to run accuracy control, and which model to keep).
    int8_judged = 'judging' if options.accuracy_control else CHOICE_SPLIT
    if 'int8' in job.candidates:
        log(f'Quantizing to INT8 with NNCF on {len(calibration)} training '
            'images ...')
        reference, labels = references[CHOICE_SPLIT]
        right = reference.argmax(axis=1) == labels
        tuned = [(x, y) for inputs, ys in select(batches, halves['tuning'])
                 for x, y in zip(inputs, ys)]
        tuning_items = [(x[None].numpy(), int(y), bool(right[i]))
                        for (x, y), i in zip(tuned, halves['tuning'])]
        free = checks['fp32'].get(LABEL_FREE, {}).get('images', 0)
        judging = Candidate('int8', 0, 0,
                            checks['fp32'][int8_judged]['images'],
                            label_free_images=free)
        files['int8'], report['int8_quantization'] = int8_candidate(
            core, files['fp32'], folder, info, calibration, tuning_items,
            evaluate, judging, options, log)
        checks['int8'] = report['int8_quantization'].pop('checks')

    for name, checked in checks.items():
        report['parity'][name] = checked[CHOICE_SPLIT]
        judged_on = int8_judged if name == 'int8' else CHOICE_SPLIT
        report['acceptance'][name] = dict(
            judged_on=('val, odd positions' if judged_on == 'judging'
                       else 'val, all'),
            judging=checked[judged_on], tuning=checked['tuning'],
            label_free=checked.get(LABEL_FREE),
            reported=(checked[job.report_split]
                      if job.report_split != CHOICE_SPLIT else None))
    if job.report_split != CHOICE_SPLIT:
        report['report_images'] = int(len(references[job.report_split][1]))
        report['reported_parity'] = {
            name: checked[job.report_split]
            for name, checked in checks.items()}

    if options.explain:
        log('Checking the saliency maps against PyTorch ...')
        report['saliency_parity'] = saliency_checks(
            job.torch_model, files, batches, options.max_saliency_diff)
        for name, check in report['saliency_parity'].items():
            log(f'Saliency {name}: predicted-class maps within '
                f'{check["max_abs_diff_predicted"]:.1e} of PyTorch, same '
                f'peak on {check["same_peak"]:.1f}% of {check["images"]} '
                'images')
        if report['saliency_parity']['fp32']['failures']:
            write_report(folder, report)
            raise ParityError(
                'The FP32 IR\'s saliency maps do not match PyTorch: '
                + '; '.join(report['saliency_parity']['fp32']['failures'])
                + '.')
    if options.benchmark_seconds > 0:
        log('Timing PyTorch and OpenVINO on CPU ...')
        report['benchmark'] = benchmark_models(
            job.torch_model,
            {name: (core.read_model(files[name]), None)
             for name in report['parity']}, (1, ) + shape,
            options.benchmark_seconds)
    recommend(report, options)
    for line in report['unshown']:
        log(line)
    report['files'] = {k: osp.basename(v) for k, v in files.items()}
    write_report(folder, report)
    return report


def image_roles(job: Deployment, halves: Dict[str, int], calibration: int,
                references: Dict) -> Dict:
    """Which images did what, with their counts (the report says so)."""
    tuned = 'int8' in job.candidates and job.options.accuracy_control
    count = {name: int(len(labels)) for name, (_, labels)
             in references.items()}
    roles = dict(
        tuning=dict(
            split=CHOICE_SPLIT, images=halves['tuning'],
            which='even positions',
            role=('choose INT8 (is plain quantization enough; NNCF accuracy '
                  'control\'s metric; which INT8 model is kept); judge BF16 '
                  'with the odd ones (nothing tunes BF16)') if tuned else
            'judge every candidate with the odd ones (nothing is tuned on '
            'val)'),
        judging=dict(
            split=CHOICE_SPLIT, images=halves['judging'],
            which='odd positions',
            role='judge INT8 (never seen by its choices), and BF16 with the '
            'even ones' if tuned else 'judge every candidate with the even '
            'ones'))
    if calibration:
        roles['calibration'] = dict(
            split='train', images=calibration, which='a fixed random choice',
            role='INT8 calibration statistics')
    if LABEL_FREE in count:
        roles['label_free'] = dict(
            split='train', images=count[LABEL_FREE],
            which='the next ones in the same order',
            role='judge every candidate by its disagreements with PyTorch '
            '(labels unused)')
    if job.report_split != CHOICE_SPLIT:
        roles['report'] = dict(
            split=job.report_split, images=count[job.report_split],
            which='the first ones, up to --parity-images',
            role='reported only: no choice looks at them')
    return roles


def operating_point_numbers(point, class_names, references: Dict) -> Dict:
    """The PyTorch model's recall, precision and top-1 of the class at its
    operating point and at argmax (per cent), on each labelled image set."""
    from ..models.operating_point import at_threshold_and_argmax
    index, threshold = point
    return dict(
        class_index=int(index), class_name=str(class_names[index]),
        threshold=float(threshold),
        splits={name: {k: 100.0 * v for k, v in at_threshold_and_argmax(
            scores, labels, index, threshold).items()}
            for name, (scores, labels) in references.items()})


def new_report(job: Deployment, shape, images: int, class_names) -> Dict:
    """The report's header: what is deployed, on which images, under which
    tolerances."""
    return dict(checkpoint=job.checkpoint,
                checkpoint_sha256=job.checkpoint_sha256,
                model_config=osp.basename(job.model_cfg.filename or ''),
                input_shape=[1, *shape], images=int(images),
                choice_split=CHOICE_SPLIT, report_split=job.report_split,
                class_names=list(class_names), parity={},
                skipped=dict(job.skipped), warnings=[],
                tolerances=job.options.tolerances(),
                accuracy_tolerance=job.options.accuracy_tolerance,
                confidence=job.options.confidence,
                min_speedup=job.options.min_speedup, acceptance={})


def deploy_checkpoint(model_config: str,
                      checkpoint: str,
                      work_dir: str,
                      deploy_config: str,
                      options: Optional[DeployOptions] = None,
                      cfg_options: Optional[dict] = None,
                      log: Callable[[str], None] = _print) -> Dict:
    """Deploy ``checkpoint``; return the report also written to work_dir.

    Raises:
        DeployInputError: bad config, checkpoint, options or work dir
            (nothing done).
        ParityError: the FP32 IR disagrees with PyTorch beyond the
            tolerances of ``options``.
    """
    from mmdeploy.apis import build_task_processor
    options = options or DeployOptions()
    model_cfg, deploy_cfg = prepare_configs(model_config, deploy_config,
                                            cfg_options, checkpoint, log)
    candidates, skipped = available_candidates(options, shared_core())
    report_split = resolve_report_split(model_cfg, options.report_split)
    check_work_dir(work_dir)
    task_processor = build_task_processor(model_cfg, deploy_cfg,
                                          options.device)
    torch_model, saved = build_checked_model(task_processor, checkpoint)
    job = Deployment(model_cfg, deploy_cfg, task_processor, torch_model,
                     saved, checkpoint, file_sha256(checkpoint), options,
                     candidates, skipped, report_split, log)

    staging = tempfile.mkdtemp(prefix='.staging-', dir=work_dir)
    try:
        report = run(job, staging)
    except BaseException:
        failed = osp.join(work_dir, 'failed_deploy')
        shutil.rmtree(failed, ignore_errors=True)
        os.replace(staging, failed)
        log(f'Deployment failed; its files are in {failed}. Nothing in '
            f'{work_dir} was replaced.')
        raise
    install(staging, work_dir, report, log)
    for warning in report['warnings']:
        log(f'WARNING: {warning}')
    log(f'Recommended model: {report["files"][report["recommended"]]} '
        f'({report["recommendation"]})')
    return report


def install(staging: str, work_dir: str, report: Dict,
            log: Callable[[str], None]) -> None:
    """Move a successful run's files from ``staging`` into ``work_dir``
    (removing the candidates an earlier deploy left that this one did not
    make again) and rewrite the report with their final paths."""
    written = sorted(os.listdir(staging))
    report['removed_stale'] = []
    for stale in stale_candidates(work_dir, written):
        remove_ir(stale)
        report['removed_stale'].append(osp.basename(stale))
        log(f'Removed {osp.basename(stale)} (and its .bin): an earlier '
            'deploy\'s candidate this one did not make again, which its '
            'report would not cover.')
    for name in written:
        os.replace(osp.join(staging, name), osp.join(work_dir, name))
    os.rmdir(staging)
    report['files'] = {k: osp.join(work_dir, v)
                       for k, v in report['files'].items()}
    write_report(work_dir, report)
