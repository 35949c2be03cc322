"""The INT8 candidate: NNCF post-training quantization, and NNCF's accuracy
control when that loses too many tuning images (never the judging ones)."""
import contextlib
import logging
import os.path as osp
import traceback
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch

from .acceptance import paired_drop_bound
from .export import INT8_FILE, remove_ir, replace_ir, save_int8
from .precision import Candidate


@contextlib.contextmanager
def quiet_nncf():
    """NNCF's INFO lines (one per step and per reverted layer) only at
    WARNING and above; the tool logs what it did."""
    from nncf.common.logging import nncf_logger
    level = nncf_logger.level
    nncf_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        nncf_logger.setLevel(level)


def is_bias_correction_crash(error: BaseException) -> bool:
    """NNCF's bias correction failing on some graphs (MobileNetV3's at 224
    px, with NNCF 3.4: ``ValueError: cannot reshape array of size 16 into
    shape (1,1,1,1)`` while it writes a corrected bias; the project's STACK
    notes). Nothing else is: any other error is a bug to see, not to
    retry."""
    if not isinstance(error, ValueError) or \
            'cannot reshape array' not in str(error):
        return False
    return any('bias_correction' in frame.filename
               or 'bias_correction' in frame.name
               for frame in traceback.extract_tb(error.__traceback__))


def quantize_int8(ov_model, calibration: List[torch.Tensor], log: Callable):
    """NNCF post-training INT8 with the calibration inputs (NCHW, batch 1).

    NNCF's bias correction crashes on some graphs
    (:func:`is_bias_correction_crash`); then it is retried without it. Any
    other error is raised.

    Returns:
        (model, mode, advanced parameters that worked or None)
    """
    import nncf
    from nncf.quantization.advanced_parameters import \
        AdvancedQuantizationParameters
    dataset = nncf.Dataset(calibration, lambda x: x.numpy())
    try:
        return nncf.quantize(ov_model, dataset,
                             subset_size=len(calibration)), 'default', None
    except ValueError as error:
        if not is_bias_correction_crash(error):
            raise
        log(f'NNCF default quantization failed in bias correction '
            f'({type(error).__name__}: {error}); retrying with bias '
            'correction disabled.')
    params = AdvancedQuantizationParameters(disable_bias_correction=True)
    return nncf.quantize(ov_model, dataset, subset_size=len(calibration),
                         advanced_parameters=params), \
        'bias correction disabled', params


def not_lost_validation_fn(compiled_model,
                           items) -> Tuple[float, List[float]]:
    """NNCF's validation function: the share (0..1) of ``(input NCHW batch
    1, label, PyTorch right)`` items the model does not lose (PyTorch right
    and the model wrong), and that per image. Its drop from the FP32 IR's is
    the share of images lost: the count the acceptance bound is made of."""
    kept = []
    output = compiled_model.output(0)
    for inputs, label, reference_right in items:
        scores = compiled_model(inputs)[output]
        right = int(np.argmax(scores[0])) == int(label)
        kept.append(float(right or not reference_right))
    return float(np.mean(kept)), kept


def quantize_int8_with_accuracy_control(ov_model,
                                        calibration: List[torch.Tensor],
                                        validation: List[Tuple[np.ndarray,
                                                               int, bool]],
                                        max_drop_points: float,
                                        advanced_parameters=None,
                                        max_iterations: Optional[int] = None):
    """NNCF INT8 that loses at most ``max_drop_points`` per cent of the
    ``validation`` images (:func:`not_lost_validation_fn`): NNCF ranks the
    quantized layers by their effect on the metric and puts the worst back
    to floating point until the drop is small enough (or none is left to
    revert).

    Args:
        ov_model: The FP32 ``openvino.Model``.
        calibration: Inputs (NCHW, batch 1) for the statistics.
        validation: ``(input, label, PyTorch right)`` items through the test
            pipeline: the tuning images.
        max_drop_points (float): Per cent of them the INT8 model may lose.
        advanced_parameters: NNCF ``AdvancedQuantizationParameters``
            (e.g. bias correction disabled where it crashes).
        max_iterations (int, optional): Most groups of layers NNCF may put
            back to floating point. Each costs a pass over ``validation``
            and, when it does not help, a re-ranking of every group left, so
            this bounds the time; None: no bound (NNCF's default).
    """
    import nncf
    from nncf.quantization.advanced_parameters import \
        AdvancedAccuracyRestorerParameters
    restorer = None
    if max_iterations is not None:
        if max_iterations < 1:
            raise ValueError('max_iterations must be at least 1, got '
                             f'{max_iterations}.')
        restorer = AdvancedAccuracyRestorerParameters(
            max_num_iterations=int(max_iterations))
    return nncf.quantize_with_accuracy_control(
        ov_model, nncf.Dataset(calibration, lambda x: x.numpy()),
        nncf.Dataset(validation), not_lost_validation_fn,
        max_drop=max(0.0, max_drop_points) / 100.0,
        drop_type=nncf.DropType.ABSOLUTE, subset_size=len(calibration),
        advanced_quantization_parameters=advanced_parameters,
        advanced_accuracy_restorer_parameters=restorer)


def count_fake_quantize(ov_model) -> int:
    return sum(op.get_type_name() in ('FakeQuantize', 'FakeConvert')
               for op in ov_model.get_ops())


def tuning_target(tolerance: float, tuning_images: int,
                  confidence: float) -> Optional[int]:
    """The most tuning images a candidate may lose and still be shown within
    ``tolerance`` on as many images (None: none, however few it loses):
    what tuning aims at, since the judging images then need about as
    few."""
    lost = None
    for k in range(tuning_images + 1):
        if paired_drop_bound(k, tuning_images, confidence) > tolerance:
            break
        lost = k
    return lost


def int8_candidate(core, fp32_xml: str, folder: str, info: Dict,
                   calibration: List[torch.Tensor], tuning_items: List,
                   evaluate: Callable[[str], Dict], judging: Candidate,
                   options, log: Callable[[str], None]) -> Tuple[str, Dict]:
    """The INT8 IR: post-training quantization, and NNCF accuracy control
    when that loses more tuning images than :func:`tuning_target` allows
    (and ``options.accuracy_control``); the one that loses fewer tuning
    images is kept. Only the tuning images choose: the judging images stay
    unseen.

    Args:
        tuning_items: ``(input, label, PyTorch right)`` of each tuning
            image: accuracy control's metric.
        evaluate: An IR's parity reports against PyTorch per image set
            (``'tuning'`` among them).
        judging: An FP32-like candidate with the judging image counts (0
            lost): whether accuracy control can pay off at all.

    Returns:
        The IR written and what was tried (with each model's parity
        reports).
    """
    tolerance, confidence = options.accuracy_tolerance, options.confidence
    fp32_model = core.read_model(fp32_xml)
    with quiet_nncf():
        model, mode, params = quantize_int8(fp32_model, calibration, log)
    xml = osp.join(folder, INT8_FILE)
    save_int8(model, xml, info, f'nncf ptq ({mode})')
    checks = evaluate(xml)
    tuning = checks['tuning']
    images = tuning['images']
    target = tuning_target(tolerance, images, confidence)
    result = dict(mode='ptq', ptq=checks, tuning_target_lost=target,
                  summary=f'NNCF post-training quantization ({mode}) loses '
                  f'{tuning["lost"]} of {images} tuning images')
    if target is not None and tuning['lost'] <= target:
        result['summary'] += (
            f' (at most {target} may be lost to be shown within the '
            f'{tolerance:g}-point tolerance on as many).')
        return xml, dict(result, checks=checks)
    if not options.accuracy_control:
        result['summary'] += ('; accuracy control not tried (disabled).')
        return xml, dict(result, checks=checks)
    if not judging.can_show(tolerance, confidence):
        result['summary'] += (
            f'; accuracy control not tried: the {judging.images} judging '
            f'images cannot show the {tolerance:g}-point tolerance however '
            'few INT8 loses.')
        log(result['summary'])
        return xml, dict(result, checks=checks)

    allowed = 0 if target is None else target
    log(f'INT8 loses {tuning["lost"]} of {images} tuning images; retrying '
        f'with NNCF accuracy control on them (at most {allowed} lost) ...')
    try:
        with quiet_nncf():
            controlled = quantize_int8_with_accuracy_control(
                fp32_model, calibration, tuning_items,
                100.0 * (allowed + 0.5) / images, params,
                max_iterations=options.accuracy_control_iterations)
    except Exception as error:  # noqa: BLE001 - NNCF raises many kinds
        result['summary'] += (
            f'. NNCF accuracy control failed ({type(error).__name__}: '
            f'{error}); the plain INT8 model is kept as the candidate.')
        log(result['summary'])
        return xml, dict(result, checks=checks)
    controlled_xml = osp.join(folder, 'end2end_int8_controlled.xml')
    save_int8(controlled, controlled_xml, info, 'nncf accuracy control')
    controlled_checks = evaluate(controlled_xml)
    controlled_lost = controlled_checks['tuning']['lost']
    kept = count_fake_quantize(controlled)
    result.update(accuracy_control=controlled_checks,
                  fake_quantize=dict(ptq=count_fake_quantize(model),
                                     accuracy_control=kept))
    result['summary'] += (
        f'; NNCF accuracy control on them ({kept} of '
        f'{count_fake_quantize(model)} quantizers kept) loses '
        f'{controlled_lost}.')
    if controlled_lost < tuning['lost']:
        result['mode'] = 'accuracy control'
        replace_ir(controlled_xml, xml)
        checks = controlled_checks
    else:
        remove_ir(controlled_xml)
    if target is None:
        result['summary'] += (
            f' (It aimed at no lost image: {images} tuning images cannot '
            f'show the {tolerance:g}-point tolerance with any.)')
    if checks['tuning']['lost'] > allowed:
        result['summary'] += (
            f' More than {allowed} lost: accuracy control may revert at most '
            f'{options.accuracy_control_iterations} groups of layers '
            '(--accuracy-control-iterations raises the bound, at the cost '
            'of time).')
    log(result['summary'])
    return xml, dict(result, checks=checks)
