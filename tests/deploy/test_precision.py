"""The precision rule, and every loader compiling an IR at its precision."""
import warnings

import numpy as np
import openvino as ov
import pytest
from mmengine.config import Config

from mmtricks.deploy.inputs import DeployInputError
from mmtricks.deploy.options import DeployOptions, available_candidates
from mmtricks.deploy.model_info import (build_model_info, recorded_precision,
                                        warn_if_precision_differs,
                                        write_model_info)
from mmtricks.deploy.precision import (Candidate, bf16_supported,
                                       choose_precision)
from mmtricks.deploy.samples import resolve_report_split

# The EfficientNet-Lite0 on ELPV (PyTorch top-1 87.43).
ELPV = [Candidate('fp32', 0.0, 0.0, 1.41, 972),
        Candidate('int8', 87.43 - 85.71, 2.48, 0.89, 1609),
        Candidate('bf16', 0.0, 0.76, 0.95, 1556)]


def test_fastest_within_tolerance_wins_and_the_reason_says_why():
    decision = choose_precision(ELPV, max_top1_drop=1.0)
    # INT8 is fastest but loses 1.72 points; BF16 keeps top-1.
    assert decision.name == 'bf16'
    assert decision.warnings == []
    assert '0.76% of decisions flipped' in decision.reason
    assert 'int8' in decision.reason and 'beyond the 1-point' in \
        decision.reason
    assert decision.speedups['bf16']['latency'] == pytest.approx(1.41 / 0.95)
    assert decision.speedups['bf16']['throughput'] == \
        pytest.approx(1556 / 972)


def test_looser_tolerance_takes_the_faster_int8():
    assert choose_precision(ELPV, max_top1_drop=2.0).name == 'int8'


def test_candidate_not_faster_enough_keeps_fp32():
    candidates = [Candidate('fp32', 0.0, 0.0, 1.0, 1000),
                  Candidate('bf16', 0.0, 0.1, 0.98, 1020),
                  Candidate('int8', 0.2, 0.5, 1.3, 800)]
    decision = choose_precision(candidates, min_speedup=1.05)
    assert decision.name == 'fp32'
    assert 'below the x1.05 needed' in decision.reason


def test_without_timings_nothing_is_known_faster():
    candidates = [Candidate('fp32', 0.0, 0.0), Candidate('int8', 0.0, 0.0)]
    decision = choose_precision(candidates)
    assert decision.name == 'fp32'
    assert 'not timed' in decision.reason
    assert decision.speedups == {}


def test_forced_candidate_outside_tolerance_is_shipped_with_a_warning():
    decision = choose_precision(ELPV, forced='int8')
    assert decision.name == 'int8'
    assert len(decision.warnings) == 1
    assert 'outside the accuracy tolerance' in decision.warnings[0]
    assert 'would ship bf16' in decision.warnings[0]


def test_forced_slower_candidate_is_warned_about():
    candidates = [Candidate('fp32', 0.0, 0.0, 1.0, 1000),
                  Candidate('int8', 0.0, 0.0, 1.2, 900)]
    decision = choose_precision(candidates, forced='int8')
    assert decision.name == 'int8'
    assert 'not faster than FP32' in decision.warnings[0]


def test_forcing_what_the_rule_picks_warns_nothing():
    assert choose_precision(ELPV, forced='bf16').warnings == []


def test_forcing_an_unchecked_precision_is_refused():
    with pytest.raises(ValueError, match='not checked'):
        choose_precision(ELPV[:2], forced='bf16')
    with pytest.raises(ValueError, match='include fp32'):
        choose_precision(ELPV[1:])


class FakeCore:
    def __init__(self, capabilities):
        self.capabilities = capabilities

    def get_property(self, device, name):
        assert name == 'OPTIMIZATION_CAPABILITIES'
        return self.capabilities


def test_bf16_is_a_candidate_only_where_the_cpu_has_it():
    with_bf16 = FakeCore(['FP32', 'BF16', 'INT8'])
    without = FakeCore(['FP32', 'INT8'])
    assert bf16_supported(with_bf16) and not bf16_supported(without)
    names, skipped = available_candidates(DeployOptions(), with_bf16)
    assert names == ['fp32', 'bf16', 'int8'] and skipped == {}
    names, skipped = available_candidates(DeployOptions(), without)
    assert names == ['fp32', 'int8'] and 'no BF16' in skipped['bf16']


@pytest.mark.parametrize('options, match', [
    (DeployOptions(precision='bf16'), 'has no BF16'),
    (DeployOptions(precision='int8', int8=False), '--no-int8'),
    (DeployOptions(precision='fp16'), 'must be one of'),
    (DeployOptions(accuracy_tolerance=-1), 'accuracy-tolerance'),
    (DeployOptions(min_speedup=0), 'min-speedup'),
    (DeployOptions(accuracy_control_iterations=0),
     'accuracy-control-iterations'),
])
def test_impossible_requests_are_refused_up_front(options, match):
    with pytest.raises(DeployInputError, match=match):
        available_candidates(options, FakeCore(['FP32', 'INT8']))


def split_config(test_dataset):
    val = dict(type='FolderOrBundledDataset', split='val')
    return Config(dict(val_dataloader=dict(dataset=val),
                       test_dataloader=dict(dataset=test_dataset or val)))


def test_report_split_is_test_only_when_the_config_has_its_own():
    same = split_config(None)
    distinct = split_config(dict(type='FolderOrBundledDataset',
                                 split='test'))
    assert resolve_report_split(same) == 'val'
    assert resolve_report_split(distinct) == 'test'
    assert resolve_report_split(distinct, 'val') == 'val'
    assert resolve_report_split(distinct, 'test') == 'test'
    with pytest.raises(DeployInputError, match='no independent test split'):
        resolve_report_split(same, 'test')
    with pytest.raises(DeployInputError, match='report split'):
        resolve_report_split(same, 'train')


# --- loaders compile at the recorded precision --------------------------

def recorded_ir(tmp_path, precision):
    param = ov.opset13.parameter([1, 3, 8, 8], ov.Type.f32, name='input')
    pooled = ov.opset13.reduce_mean(param, [2, 3], keep_dims=False)
    model = ov.Model([ov.opset13.softmax(pooled, 1)], [param], 'tiny')
    write_model_info(model, build_model_info(['a', 'b', 'c'], [0] * 3,
                                             [1] * 3, False, 'standard'),
                     ['a', 'b', 'c'], inference_precision=precision)
    xml = str(tmp_path / f'{precision}.xml')
    ov.save_model(model, xml)
    return xml


class SpyCore:
    """An ``ov.Core`` that remembers the properties of each compile."""

    def __init__(self):
        self.core = ov.Core()
        self.compiled_with = []

    def compile_model(self, model, device, config=None):
        self.compiled_with.append(dict(config or {}))
        return self.core.compile_model(model, device, config or {})


def test_classifier_compiles_at_the_recorded_precision(tmp_path):
    from mmtricks.deploy import OpenVINOClassifier
    classifier = OpenVINOClassifier(recorded_ir(tmp_path, 'bf16'))
    classifier.core = SpyCore()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # this CPU may lack BF16
        classifier.scores([np.zeros((8, 8, 3), np.uint8)])
    assert classifier.core.compiled_with[0][
        'INFERENCE_PRECISION_HINT'] == 'bf16'


def test_mmdeploy_wrapper_compiles_at_the_recorded_precision(tmp_path):
    import torch

    from mmtricks.deploy.mmdeploy_openvino import OpenVINOWrapper
    wrapper = OpenVINOWrapper(recorded_ir(tmp_path, 'bf16'))
    wrapper.core = SpyCore()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        wrapper({'input': torch.zeros(2, 3, 8, 8)})
    assert wrapper.core.compiled_with[0]['INFERENCE_PRECISION_HINT'] == \
        'bf16'


@pytest.mark.parametrize('timing', ['openvino_latency', 'openvino_throughput'])
def test_latency_timing_compiles_at_the_recorded_precision(tmp_path, timing):
    from mmtricks.deploy import latency
    core = SpyCore()
    model = core.core.read_model(recorded_ir(tmp_path, 'bf16'))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        getattr(latency, timing)(core, model, (1, 3, 8, 8), 0.01)
    assert core.compiled_with[0]['INFERENCE_PRECISION_HINT'] == 'bf16'
    # An explicit precision (a benchmark's other rows) still wins, and the
    # hint of the timing mode is kept.
    getattr(latency, timing)(core, model, (1, 3, 8, 8), 0.01,
                             properties={'INFERENCE_PRECISION_HINT': 'f32'})
    assert core.compiled_with[1]['INFERENCE_PRECISION_HINT'] == 'f32'
    assert core.compiled_with[1]['PERFORMANCE_HINT'] == (
        'LATENCY' if timing == 'openvino_latency' else 'THROUGHPUT')


class FakeCompiled:
    def __init__(self, running):
        self.running = running

    def get_property(self, name):
        assert name == 'INFERENCE_PRECISION_HINT'
        return self.running


def test_running_at_another_precision_than_checked_is_warned(tmp_path):
    model = ov.Core().read_model(recorded_ir(tmp_path, 'bf16'))
    assert recorded_precision(model) == 'bf16'
    # OpenVINO silently runs a BF16 hint at f32 on CPUs without BF16.
    with pytest.warns(UserWarning, match='checked at bf16.*runs it at f32'):
        warn_if_precision_differs(FakeCompiled(ov.Type.f32), model)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert warn_if_precision_differs(FakeCompiled(ov.Type.bf16),
                                         model) is None
