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

ROUNDS = dict(fp32=([1.40, 1.41, 1.45], [960, 972, 990]),
              bf16=([0.93, 0.95, 0.97], [1540, 1556, 1570]),
              int8=([0.88, 0.89, 0.90], [1600, 1609, 1620]))


def candidate(name, lost=0, gained=0, images=600, flipped=None, **kwargs):
    latency, throughput = ROUNDS[name]
    kwargs.setdefault('latency_rounds', latency)
    kwargs.setdefault('throughput_rounds', throughput)
    return Candidate(name, lost, gained, images,
                     lost + gained if flipped is None else flipped, **kwargs)


def test_bf16_with_no_lost_image_on_enough_images_is_recommended():
    decision = choose_precision([candidate('fp32'), candidate('bf16')])
    assert decision.name == 'bf16'
    assert decision.bounds['bf16'] == pytest.approx(
        100 * (1 - 0.05 ** (1 / 600)))
    assert 'drop at most 0.50 points at 95%' in decision.reason
    assert 'within the 1-point tolerance' in decision.reason
    assert decision.unshown == []


def test_two_of_200_images_lost_is_not_within_one_point():
    # Point estimate: exactly 1 point, "within the tolerance" by today's
    # rule; its 95% bound is 3.1 points.
    int8 = candidate('int8', lost=2, images=200)
    assert int8.top1_drop == pytest.approx(1.0)
    decision = choose_precision([candidate('fp32', images=200), int8])
    assert decision.name == 'fp32'
    assert 'int8: top-1 -1.00 points' in decision.reason
    assert 'not shown within the 1-point tolerance' in decision.reason


def test_fastest_shown_candidate_wins_and_the_reason_says_why():
    # INT8 is fastest but loses 4 of 600 judging images (bound 1.3 points).
    decision = choose_precision([candidate('fp32'), candidate('int8', 4, 1),
                                 candidate('bf16', 0, 0, flipped=1)])
    assert decision.name == 'bf16'
    assert 'int8: top-1 -0.50 points' in decision.reason
    assert 'not shown within' in decision.reason
    assert decision.speedups['bf16']['latency'] == pytest.approx(1.41 / 0.95)
    assert decision.speedups['bf16']['throughput'] == \
        pytest.approx(1556 / 972)


def test_looser_tolerance_takes_the_faster_int8():
    candidates = [candidate('fp32'), candidate('int8', 4, 1),
                  candidate('bf16')]
    assert choose_precision(candidates, max_top1_drop=2.0).name == 'int8'


def test_images_that_cannot_show_the_tolerance_say_how_many_would():
    decision = choose_precision([candidate('fp32', images=180),
                                 candidate('bf16', images=180)])
    assert decision.name == 'fp32'
    assert len(decision.unshown) == 1
    assert 'bf16: 180 judging images cannot show' in decision.unshown[0]
    assert '299 judging images without a lost image would' in \
        decision.unshown[0]


def test_label_free_images_can_show_what_labelled_ones_cannot():
    bf16 = candidate('bf16', images=180, label_free_disagreements=0,
                     label_free_images=2000)
    decision = choose_precision([candidate('fp32', images=180), bf16])
    assert decision.name == 'bf16'
    assert '0 of 2000 label-free images flipped' in decision.reason


def test_a_speedup_within_the_rounds_spread_is_not_taken():
    # Median latency x1.05 and throughput x1.05 (today's rule took it), but
    # the candidate's third round was slow: the rounds overlap.
    fp32 = candidate('fp32', latency_rounds=[1.00, 1.05, 1.20],
                     throughput_rounds=[900, 1000, 1050])
    int8 = candidate('int8', latency_rounds=[0.90, 1.00, 1.25],
                     throughput_rounds=[1050, 1100, 880])
    decision = choose_precision([fp32, int8])
    assert decision.speedups['int8']['overall'] == pytest.approx(1.05)
    assert decision.name == 'fp32'
    assert 'not faster beyond the rounds\' spread' in decision.reason
    assert "rounds 0.926-1.19 ms vs FP32's 1.02-1.07 ms" in decision.reason
    # Each round's cost is the geometric mean of latency and time per
    # image: latency alike, throughput x1.5 in every round is faster.
    int8.latency_rounds = [1.00, 1.05, 1.20]
    int8.throughput_rounds = [1500, 1550, 1600]
    assert choose_precision([fp32, int8]).name == 'int8'
    # A floor on the median speed-up still applies when asked for.
    assert choose_precision([fp32, int8], min_speedup=1.5).name == 'fp32'


def test_without_timings_nothing_is_known_faster():
    candidates = [candidate('fp32', latency_rounds=(), throughput_rounds=()),
                  candidate('int8', latency_rounds=(), throughput_rounds=())]
    decision = choose_precision(candidates)
    assert decision.name == 'fp32'
    assert 'not timed' in decision.reason
    assert decision.speedups == {}


def test_forced_candidate_not_shown_is_shipped_with_a_warning():
    candidates = [candidate('fp32'), candidate('int8', 4, 1),
                  candidate('bf16')]
    decision = choose_precision(candidates, forced='int8')
    assert decision.name == 'int8'
    assert len(decision.warnings) == 1
    assert 'not shown within the accuracy tolerance' in decision.warnings[0]
    assert 'would ship bf16' in decision.warnings[0]


def test_forced_slower_candidate_is_warned_about():
    candidates = [candidate('fp32'),
                  candidate('int8', latency_rounds=[1.5, 1.6, 1.7],
                            throughput_rounds=[800, 850, 900])]
    decision = choose_precision(candidates, forced='int8')
    assert decision.name == 'int8'
    assert 'not shown faster than FP32' in decision.warnings[0]


def test_forcing_what_the_rule_picks_warns_nothing():
    candidates = [candidate('fp32'), candidate('bf16')]
    assert choose_precision(candidates, forced='bf16').warnings == []


def test_forcing_an_unchecked_precision_is_refused():
    with pytest.raises(ValueError, match='not checked'):
        choose_precision([candidate('fp32'), candidate('int8')],
                         forced='bf16')
    with pytest.raises(ValueError, match='include fp32'):
        choose_precision([candidate('int8')])


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
    (DeployOptions(accuracy_tolerance=0), 'loses nothing at all'),
    (DeployOptions(confidence=1.0), 'confidence'),
    (DeployOptions(label_free_images=-1), 'label-free-images'),
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
