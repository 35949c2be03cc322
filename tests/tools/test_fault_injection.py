"""tools/fault_injection.py: its flags (the campaign itself is measured, not
tested: it trains for tens of minutes; its pure parts are tested in
tests/tools/benchmarks/test_fault_injection.py)."""
import pytest

import fault_injection


def test_defaults_are_the_campaign_the_issue_asks_for():
    args = fault_injection.parse_args([])
    assert (args.kills, args.seeds, args.data, args.max_epochs,
            args.threads) == (30, [0, 1, 2], 'digits', 15, 1)
    assert args.config.endswith('configs/auto_mbv3.py')


@pytest.mark.parametrize('argv, message', [
    (['--seeds', '0'], 'at least two seeds'),
    (['--kills', '0'], '--kills must be at least 1'),
    (['--max-epochs', '0'], '--max-epochs must be at least 1'),
])
def test_flags_that_cannot_give_an_answer_are_refused(argv, message, capsys):
    with pytest.raises(SystemExit):
        fault_injection.parse_args(argv)
    assert message in capsys.readouterr().err
