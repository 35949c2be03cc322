"""What a consumer of the IR needs, stored in its runtime info.

The keys under ``model_info`` are the ones OpenVINO's Model API reads
(``model_type``, ``labels``, ``mean_values``, ``scale_values``,
``reverse_input_channels``, ``resize_type``), so
``model_api.models.Model.create_model('model.xml')`` classifies with the
right preprocessing. Model API splits ``labels`` on spaces, so the exact
class names are also kept as JSON under ``mmtricks/class_names``.

Each IR also names the checkpoint it was made from (``mmtricks/checkpoint``,
its absolute path, and ``mmtricks/checkpoint_sha256``), as does the deploy
report beside it; a loader warns when the two disagree
(:func:`warn_if_stale`).
"""
import json
import os.path as osp
import warnings
import xml.etree.ElementTree as ElementTree
from typing import Dict, List, Optional, Sequence, Tuple

MODEL_INFO = 'model_info'
MMTRICKS = 'mmtricks'
# OpenVINO's CPU plugin runs FP32 IRs in bf16 by default on CPUs with bf16
# support, which moves softmax scores by ~1e-2; the IR records the precision
# it was verified at (``inference_precision``), and mmtricks compiles it so.
VERIFIED_PRECISION = 'f32'
PRECISION_KEY = (MMTRICKS, 'inference_precision')
CHECKPOINT_KEY = (MMTRICKS, 'checkpoint')
CHECKPOINT_SHA256_KEY = (MMTRICKS, 'checkpoint_sha256')
#: The IR output holding saliency maps (``tools/deploy.py --explain``), and
#: the runtime-info key naming the method that made them.
SALIENCY_OUTPUT = 'saliency'
SALIENCY_KEY = (MMTRICKS, 'saliency')
#: ``tools/deploy.py``'s report (``.json`` and ``.md``) in its work dir.
DEPLOY_REPORT = 'deploy_report'
#: Digits of a sha256 shown to people (the report and IRs keep all 64).
SHORT_SHA256 = 12

# mmpretrain transforms that decide the network input size, and how.
_RESIZE_TYPES = ('Resize', 'RandomResize', 'ResizeEdge')
_CROP_TYPES = ('CenterCrop', )


def _format_floats(values: Sequence[float]) -> str:
    return ' '.join(f'{float(v):g}' for v in values)


def _parse_floats(text: str) -> List[float]:
    return [float(v) for v in str(text).split()]


def resize_type_of(pipeline: Sequence[dict]) -> str:
    """Model API's ``resize_type`` matching an mmpretrain test pipeline.

    ``'crop'``: resize the short side then centre-crop (``ResizeEdge`` +
    ``CenterCrop``); ``'standard'``: stretch to the input size.
    """
    types = [step.get('type', '').split('.')[-1] for step in pipeline]
    if any(t in _CROP_TYPES for t in types):
        return 'crop'
    return 'standard'


def preprocessor_settings(model_cfg) -> Dict:
    """mean, std and colour order of the model's data preprocessor."""
    pre = model_cfg.get('data_preprocessor') or \
        model_cfg.model.get('data_preprocessor') or {}
    mean = pre.get('mean')
    std = pre.get('std')
    if mean is None or std is None:
        mean, std = [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]
    to_rgb = bool(pre.get('to_rgb', pre.get('bgr_to_rgb', False)))
    return dict(mean=list(mean), std=list(std), to_rgb=to_rgb)


def build_model_info(class_names: Sequence[str], mean: Sequence[float],
                     std: Sequence[float], to_rgb: bool,
                     resize_type: str) -> Dict[str, str]:
    """The ``model_info`` entries, all strings as Model API expects.

    ``reverse_input_channels`` is true when the network takes RGB: images
    read with OpenCV are BGR and must be flipped.
    """
    return {
        'model_type': 'Classification',
        'labels': ' '.join(str(n).replace(' ', '_') for n in class_names),
        'mean_values': _format_floats(mean),
        'scale_values': _format_floats(std),
        'reverse_input_channels': str(bool(to_rgb)),
        'resize_type': resize_type,
        'output_raw_scores': 'True',
        'topk': '1',
    }


def write_model_info(ov_model, info: Dict[str, str],
                     class_names: Sequence[str],
                     extra: Optional[Dict[str, str]] = None,
                     inference_precision: str = VERIFIED_PRECISION) -> None:
    """Store ``info``, the class names, the precision the IR was checked at
    (OpenVINO's ``INFERENCE_PRECISION_HINT`` value) and ``extra``."""
    for key, value in info.items():
        ov_model.set_rt_info(value, [MODEL_INFO, key])
    ov_model.set_rt_info(json.dumps(list(class_names)),
                         [MMTRICKS, 'class_names'])
    set_inference_precision(ov_model, inference_precision)
    for key, value in (extra or {}).items():
        ov_model.set_rt_info(str(value), [MMTRICKS, key])


def set_inference_precision(ov_model, precision: str) -> None:
    ov_model.set_rt_info(precision, list(PRECISION_KEY))


def recorded_precision(ov_model) -> Optional[str]:
    """The precision the IR was checked at, None for IRs from elsewhere."""
    return _rt_value(ov_model, *PRECISION_KEY)


def _rt_value(ov_model, *path) -> Optional[str]:
    if not ov_model.has_rt_info(list(path)):
        return None
    value = ov_model.get_rt_info(list(path))
    return value.astype(str) if hasattr(value, 'astype') else str(value)


def read_model_info(ov_model) -> Dict:
    """Class names and preprocessing from an IR written by mmtricks."""
    names = _rt_value(ov_model, MMTRICKS, 'class_names')
    labels = _rt_value(ov_model, MODEL_INFO, 'labels')
    if names is not None:
        class_names = json.loads(names)
    elif labels is not None:
        class_names = labels.split()
    else:
        raise ValueError(
            'The IR has no class names in its runtime info (model_info/'
            'labels). Was it written by tools/deploy.py?')
    mean = _rt_value(ov_model, MODEL_INFO, 'mean_values')
    std = _rt_value(ov_model, MODEL_INFO, 'scale_values')
    reverse = _rt_value(ov_model, MODEL_INFO, 'reverse_input_channels')
    shape = ov_model.input(0).get_partial_shape()
    height, width = shape[2].get_length(), shape[3].get_length()
    return dict(
        class_names=class_names,
        mean=_parse_floats(mean) if mean else [0.0, 0.0, 0.0],
        std=_parse_floats(std) if std else [1.0, 1.0, 1.0],
        to_rgb=(reverse or 'False').lower() == 'true',
        resize_type=_rt_value(ov_model, MODEL_INFO, 'resize_type')
        or 'standard',
        input_size=(height, width),
        saliency=saliency_method(ov_model),
        operating_point=operating_point_of(ov_model),
    )


#: A 2-class model's operating point (mmtricks.models.operating_point):
#: the class index and the threshold on its score (absent: argmax).
OPERATING_CLASS_KEY = (MMTRICKS, 'operating_point_class')
OPERATING_THRESHOLD_KEY = (MMTRICKS, 'operating_point_threshold')


def operating_point_extra(class_index: Optional[int],
                          threshold: Optional[float]) -> Dict[str, str]:
    """The runtime-info entries (for :func:`write_model_info`'s
    ``extra``) of an operating point; none for argmax."""
    if class_index is None or threshold is None:
        return {}
    return {OPERATING_CLASS_KEY[1]: str(int(class_index)),
            OPERATING_THRESHOLD_KEY[1]: repr(float(threshold))}


def operating_point_of(ov_model
                       ) -> Tuple[Optional[int], Optional[float]]:
    """``(class index, threshold)`` the IR records, or ``(None, None)``:
    argmax."""
    index = _rt_value(ov_model, *OPERATING_CLASS_KEY)
    threshold = _rt_value(ov_model, *OPERATING_THRESHOLD_KEY)
    if index is None or threshold is None:
        return None, None
    return int(index), float(threshold)


def saliency_method(ov_model) -> Optional[str]:
    """The method of the IR's :data:`SALIENCY_OUTPUT` maps (``recipro_cam``),
    or None when the IR has no such output."""
    names = {name for out in ov_model.outputs for name in out.get_names()}
    if SALIENCY_OUTPUT not in names:
        return None
    return _rt_value(ov_model, *SALIENCY_KEY) or 'unrecorded'


def checkpoint_of(ov_model) -> Tuple[Optional[str], Optional[str]]:
    """``(path, sha256)`` of the checkpoint the IR was made from, as
    recorded (None for IRs written before it was recorded)."""
    return _rt_value(ov_model, *CHECKPOINT_KEY), \
        _rt_value(ov_model, *CHECKPOINT_SHA256_KEY)


def written_by_deploy(xml_path: str) -> bool:
    """Whether an IR file holds the runtime info ``tools/deploy.py`` writes
    (read from the XML alone: its weights may be gone)."""
    try:
        root = ElementTree.parse(xml_path).getroot()
    except (OSError, ElementTree.ParseError):
        return False
    return root.find(f'rt_info/{MMTRICKS}') is not None


def stale_ir_problem(model_path: str, ov_model) -> Optional[str]:
    """Why the IR at ``model_path`` is not one the deploy report beside it
    describes (left by an earlier deploy, or made from another
    checkpoint), or None (no report beside it, or it matches)."""
    report_path = osp.join(osp.dirname(osp.abspath(model_path)),
                           DEPLOY_REPORT + '.json')
    try:
        with open(report_path) as f:
            report = json.load(f)
        listed = {osp.basename(str(p))
                  for p in (report.get('files') or {}).values()}
    except (OSError, ValueError, AttributeError):
        return None
    name = osp.basename(model_path)
    path, sha = checkpoint_of(ov_model)
    theirs = report.get('checkpoint_sha256')
    made_from = (f'{path} (sha256 {sha[:SHORT_SHA256]})' if sha
                 else 'an unrecorded checkpoint')
    described = (f'{report.get("checkpoint")}'
                 + (f' (sha256 {theirs[:SHORT_SHA256]})' if theirs else ''))
    if sha and theirs:  # both recorded: the hashes decide
        if sha == theirs:
            return None
        why = 'was made from another checkpoint'
    elif name not in listed:
        why = 'is not among the files it lists'
    else:
        return None
    return (f'{name} was made from {made_from}, but the deploy report '
            f'beside it ({report_path}) is for {described}: the IR {why}, '
            'so it is left from an earlier deploy and the report\'s checks '
            'do not apply to it. Load a file the report lists, or deploy '
            'again.')


def warn_if_stale(model_path: str, ov_model) -> Optional[str]:
    """Warn with :func:`stale_ir_problem`'s line; return it, or None."""
    problem = stale_ir_problem(model_path, ov_model)
    if problem:
        warnings.warn(problem, stacklevel=2)
    return problem


def compile_properties(ov_model, performance_hint: str = 'LATENCY') -> Dict:
    """``compile_model`` properties: the hint, and the checked precision."""
    properties = {'PERFORMANCE_HINT': performance_hint}
    precision = recorded_precision(ov_model)
    if precision:
        properties['INFERENCE_PRECISION_HINT'] = precision
    return properties


def _type_name(value) -> str:
    return value.get_type_name() if hasattr(value, 'get_type_name') \
        else str(value)


def warn_if_precision_differs(compiled, ov_model) -> Optional[str]:
    """Warn when the device runs the IR at another precision than the one
    it was checked at (OpenVINO falls back to f32 silently when a CPU lacks
    BF16); return the warning, or None."""
    wanted = recorded_precision(ov_model)
    if not wanted:
        return None
    running = _type_name(compiled.get_property('INFERENCE_PRECISION_HINT'))
    if running == wanted:
        return None
    message = (
        f'This IR was checked at {wanted} (mmtricks/inference_precision), '
        f'but this device runs it at {running}: accuracy and speed differ '
        f'from those tools/deploy.py measured. Deploy again on this machine '
        f'(python tools/deploy.py ...) or ship the FP32 IR (end2end.xml).')
    warnings.warn(message, stacklevel=2)
    return message


def compile_recorded(core, ov_model, device: str = 'CPU',
                     performance_hint: str = 'LATENCY',
                     properties: Optional[Dict] = None):
    """``core.compile_model`` at the precision the IR records.

    Args:
        core: An ``openvino.Core``.
        ov_model: The model (as read; may be reshaped).
        device (str): OpenVINO device. Defaults to ``'CPU'``.
        performance_hint (str): ``'LATENCY'`` or ``'THROUGHPUT'``.
        properties (dict, optional): More properties; they win over the
            recorded ones.
    """
    config = dict(compile_properties(ov_model, performance_hint),
                  **(properties or {}))
    compiled = core.compile_model(ov_model, device, config)
    if 'INFERENCE_PRECISION_HINT' not in (properties or {}):
        warn_if_precision_differs(compiled, ov_model)
    return compiled
