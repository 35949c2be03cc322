"""The INT8 candidate: NNCF post-training quantization, and NNCF's accuracy
control when that loses more than the tolerance."""
import contextlib
import logging
import os.path as osp
import traceback
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch

from .export import INT8_FILE, remove_ir, replace_ir, save_int8
from .parity import top1_drop
from .samples import CHOICE_SPLIT, preprocessed_batches


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


def top1_validation_fn(compiled_model, items) -> Tuple[float, List[float]]:
    """NNCF's validation function: top-1 (0..1) and per-image correctness
    of ``(input NCHW batch 1, label)`` items."""
    correct = []
    output = compiled_model.output(0)
    for inputs, label in items:
        scores = compiled_model(inputs)[output]
        correct.append(float(int(np.argmax(scores[0])) == int(label)))
    return float(np.mean(correct)), correct


def quantize_int8_with_accuracy_control(ov_model,
                                        calibration: List[torch.Tensor],
                                        validation: List[Tuple[np.ndarray,
                                                               int]],
                                        max_drop_points: float,
                                        advanced_parameters=None,
                                        max_iterations: Optional[int] = None):
    """NNCF INT8 that keeps top-1 on ``validation`` within
    ``max_drop_points`` of ``ov_model``'s: NNCF ranks the quantized layers by
    their effect on the metric and puts the worst back to floating point
    until the drop is small enough (or none is left to revert).

    Args:
        ov_model: The FP32 ``openvino.Model``.
        calibration: Inputs (NCHW, batch 1) for the statistics.
        validation: ``(input, label)`` items through the test pipeline.
        max_drop_points (float): Points of top-1 the INT8 model may lose.
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
        nncf.Dataset(validation), top1_validation_fn,
        max_drop=max(0.0, max_drop_points) / 100.0,
        drop_type=nncf.DropType.ABSOLUTE, subset_size=len(calibration),
        advanced_quantization_parameters=advanced_parameters,
        advanced_accuracy_restorer_parameters=restorer)


def count_fake_quantize(ov_model) -> int:
    return sum(op.get_type_name() in ('FakeQuantize', 'FakeConvert')
               for op in ov_model.get_ops())


def calibration_inputs(model_cfg, data_preprocessor, count: int,
                       log: Callable[[str], None]) -> List[torch.Tensor]:
    """``count`` training images (a fixed random choice) through the test
    pipeline, one NCHW batch-1 tensor each. From the training split only:
    the choice is made on val, and the reported accuracy may come from
    test."""
    log(f'Quantizing to INT8 with NNCF on {count} training images ...')
    batches, _ = preprocessed_batches(model_cfg, 'train', data_preprocessor,
                                      count, seed=0)
    return [x[None] for inputs, _ in batches for x in inputs]


def int8_candidate(core, fp32_xml: str, folder: str, info: Dict,
                   calibration: List[torch.Tensor], batches,
                   parity_of: Callable[[str], Dict], fp32_drop: float,
                   options, log: Callable[[str], None]) -> Tuple[str, Dict]:
    """The INT8 IR: post-training quantization, and accuracy control when
    that loses more than ``options.accuracy_tolerance`` (and
    ``options.accuracy_control``); the better of the two is kept.

    Args:
        batches: The choice split's ``(inputs, labels)`` batches: accuracy
            control's metric.
        parity_of: An IR's parity report against PyTorch on ``batches``.
        fp32_drop (float): Points of top-1 the FP32 IR loses against
            PyTorch (NNCF measures the drop against the FP32 IR).

    Returns:
        The IR written and what was tried (with the kept one's parity).
    """
    fp32_model = core.read_model(fp32_xml)
    with quiet_nncf():
        model, mode, params = quantize_int8(fp32_model, calibration, log)
    xml = osp.join(folder, INT8_FILE)
    save_int8(model, xml, info, f'nncf ptq ({mode})')
    parity = parity_of(xml)
    tolerance = options.accuracy_tolerance
    drop = top1_drop(parity)
    result = dict(mode='ptq', ptq_parity=parity,
                  summary=f'NNCF post-training quantization ({mode}): '
                  f'top-1 {0.0 - drop:+.2f} points vs PyTorch.')
    if drop <= tolerance or not options.accuracy_control:
        if drop > tolerance:
            result['summary'] += (' Beyond the tolerance; accuracy '
                                  'control not tried (disabled).')
        return xml, dict(result, parity=parity)

    validation = [(x[None].numpy(), int(y)) for inputs, ys in batches
                  for x, y in zip(inputs, ys)]
    log(f'INT8 loses {drop:.2f} points of top-1 (tolerance {tolerance:g}); '
        f'retrying with NNCF accuracy control on {len(validation)} '
        f'{CHOICE_SPLIT} images ...')
    try:
        with quiet_nncf():
            controlled = quantize_int8_with_accuracy_control(
                fp32_model, calibration, validation,
                tolerance - max(0.0, fp32_drop), params,
                max_iterations=options.accuracy_control_iterations)
    except Exception as error:  # noqa: BLE001 - NNCF raises many kinds
        result['summary'] += (
            f' NNCF accuracy control failed ({type(error).__name__}: '
            f'{error}); the plain INT8 model is kept as the candidate.')
        log(result['summary'])
        return xml, dict(result, parity=parity)
    controlled_xml = osp.join(folder, 'end2end_int8_controlled.xml')
    save_int8(controlled, controlled_xml, info, 'nncf accuracy control')
    controlled_parity = parity_of(controlled_xml)
    controlled_drop = top1_drop(controlled_parity)
    kept = count_fake_quantize(controlled)
    result.update(accuracy_control_parity=controlled_parity,
                  fake_quantize=dict(ptq=count_fake_quantize(model),
                                     accuracy_control=kept))
    result['summary'] += (
        f' NNCF accuracy control ({kept} of {count_fake_quantize(model)} '
        f'quantizers kept): top-1 {0.0 - controlled_drop:+.2f} points.')
    if controlled_drop < drop:
        result['mode'] = 'accuracy control'
        replace_ir(controlled_xml, xml)
        parity = controlled_parity
    else:
        remove_ir(controlled_xml)
    if top1_drop(parity) > tolerance:
        result['summary'] += (
            ' Both lose more than the tolerance: INT8 is not a candidate '
            'that keeps the accuracy; the best of the others is recommended. '
            'Accuracy control may revert at most '
            f'{options.accuracy_control_iterations} groups of layers '
            '(--accuracy-control-iterations raises the bound, at the cost '
            'of time).')
    log(result['summary'])
    return xml, dict(result, parity=parity)
