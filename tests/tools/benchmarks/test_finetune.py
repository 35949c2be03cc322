import pytest

from benchmarks.finetune import paired_gain, render, row_config, summarise


def test_rows_differ_only_in_their_change(tmp_path):
    base = row_config('lfw_faces', 'recipe', 0, str(tmp_path / 'a'), 64)
    tenth = row_config('lfw_faces', 'backbone_lr_0.1', 0,
                       str(tmp_path / 'b'), 64)
    assert base.train_cfg.max_epochs == tenth.train_cfg.max_epochs == 20
    assert base.image_size == tenth.image_size == 64
    assert [i['type'] for i in base.model.backbone.init_cfg] == [
        'PackagedEfficientNetLite']
    paramwise = tenth.optim_wrapper.paramwise_cfg
    assert paramwise.custom_keys == dict(backbone=dict(lr_mult=0.1))
    # The recipe's own decay rules stay.
    assert paramwise.norm_decay_mult == 0.0
    assert paramwise.bias_decay_mult == 0.0
    tenth.optim_wrapper.paramwise_cfg.pop('custom_keys')
    assert base.optim_wrapper == tenth.optim_wrapper
    assert base.model == tenth.model


def test_steepest_row_changes_only_the_range_test_rule(tmp_path):
    base = row_config('lfw_faces', 'recipe', 0, str(tmp_path / 'a'), None)
    steep = row_config('lfw_faces', 'finder_steepest', 0,
                       str(tmp_path / 'b'), None)
    finder = [h for h in steep.custom_hooks if h['type'] == 'LRFinderHook']
    assert [h.get('rule') for h in finder] == ['steepest']
    finder[0].pop('rule')
    assert base.custom_hooks == steep.custom_hooks
    assert base.optim_wrapper == steep.optim_wrapper


def test_rows_keep_the_recipes_fallback_lr(tmp_path):
    # what trains when the range test gives no answer: the fine-tuning
    # recipe's 0.01, not the from-scratch 0.1
    base = row_config('lfw_faces', 'recipe', 0, str(tmp_path / 'a'), 64)
    assert base.optim_wrapper.optimizer.lr == 0.01


def test_linear_probe_row_only_adds_the_probe(tmp_path):
    base = row_config('lfw_faces', 'recipe', 0, str(tmp_path / 'a'), None)
    probe = row_config('lfw_faces', 'linear_probe', 0, str(tmp_path / 'b'),
                       None)
    assert probe.custom_hooks[-1] == dict(type='LinearProbeHook')
    assert probe.custom_hooks[:-1] == base.custom_hooks
    assert base.optim_wrapper == probe.optim_wrapper
    assert base.model == probe.model


def test_range_test_rows_change_only_the_range_test(tmp_path):
    base = row_config('lfw_faces', 'recipe', 0, str(tmp_path / 'a'), None)
    short = row_config('lfw_faces', 'finder_20_steps', 0,
                       str(tmp_path / 'b'), None)
    fixed = row_config('lfw_faces', 'lr_0.02', 0, str(tmp_path / 'c'), None)
    finder = [h for h in short.custom_hooks if h['type'] == 'LRFinderHook']
    assert [h['num_steps'] for h in finder] == [20]
    finder[0].pop('num_steps')
    assert base.custom_hooks == short.custom_hooks
    assert base.optim_wrapper == short.optim_wrapper
    assert not [h for h in fixed.custom_hooks
                if h['type'] == 'LRFinderHook']
    assert fixed.optim_wrapper.optimizer.lr == 0.02
    assert [h for h in base.custom_hooks if h['type'] != 'LRFinderHook'] \
        == fixed.custom_hooks
    fixed.optim_wrapper.optimizer.lr = base.optim_wrapper.optimizer.lr
    assert base.optim_wrapper == fixed.optim_wrapper


def test_backbone_groups_learn_at_a_tenth_of_the_head_lr(tmp_path):
    from mmengine.optim import build_optim_wrapper
    from mmpretrain.registry import MODELS

    import mmtricks  # noqa: F401
    cfg = row_config('lfw_faces', 'backbone_lr_0.1', 0, str(tmp_path), 64)
    model_cfg = dict(cfg.model, type='ImageClassifier')
    model_cfg['backbone'] = dict(model_cfg['backbone'], init_cfg=None)
    model = MODELS.build(model_cfg)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    base = cfg.optim_wrapper.optimizer.lr
    lrs = {}
    for group, (name, _) in zip(wrapper.param_groups,
                                model.named_parameters()):
        lrs.setdefault(name.split('.')[0], set()).add(group['lr'])
    assert sorted(lrs['backbone']) == pytest.approx([base * 0.1])
    assert sorted(lrs['head']) == pytest.approx([base])


def test_gain_helps_only_beyond_twice_its_standard_error():
    assert paired_gain([80.0, 81.0, 82.0], [78.0, 79.0, 80.5])['helps']
    noisy = paired_gain([80.0, 76.0, 84.0], [78.0, 79.0, 80.0])
    assert not noisy['helps'] and not noisy['hurts']
    assert paired_gain([70.0, 71.0, 72.0], [78.0, 79.0, 80.0])['hurts']
    assert not paired_gain([90.0], [80.0])['helps']  # one seed shows nothing


def test_summary_and_table():
    def run(top1, f1):
        return dict(test_top1=top1, epochs=10, seconds=100.0, lr=0.05,
                    test_metrics={'macro/f1-score': f1})
    runs = {'recipe': [run(80.0, 70.0), run(81.0, 71.0)],
            'backbone_lr_0.1': [run(83.0, 74.0), run(84.0, 75.0)]}
    rows = summarise(runs)
    assert rows['backbone_lr_0.1']['top1_gain']['mean'] == pytest.approx(3.0)
    assert rows['backbone_lr_0.1']['top1_gain']['helps']
    payload = dict(machine='a CPU', command='python x', note='',
                   datasets=[dict(dataset='elpv_poly', image_size=64,
                                  rows=rows)])
    table = render(payload)
    assert '| elpv_poly | 64 | backbone_lr_0.1 | 2 | 83.50 ± 0.71 | ' \
        '74.50 ± 0.71 | +3.00 (SE 0.00): helps |' in table
