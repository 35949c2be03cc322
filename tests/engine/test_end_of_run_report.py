"""The end-of-run report never fails a run: it warns."""
from mmtricks.engine import end_of_run_report


def test_a_report_that_fails_warns_and_the_run_goes_on(tmp_path,
                                                       monkeypatch):
    class Logger:
        def __init__(self):
            self.lines = []

        def warning(self, line):
            self.lines.append(('warning', line))

        def info(self, line):
            self.lines.append(('info', line))

    class Loader:
        dataset = []  # not a dataset: the gallery fails too
        batch_size = 2

    class Runner:
        work_dir = str(tmp_path)
        cfg = {}
        trained_here = True
        logger = Logger()
        model = None
        val_dataloader = Loader()

    def broken(*args, **kwargs):
        raise OSError('disk full')
    monkeypatch.setattr(end_of_run_report, 'write_report', broken)
    end_of_run_report.write_end_of_run_report(Runner, 'val')
    levels = [level for level, _ in Runner.logger.lines]
    assert levels == ['warning', 'warning'], Runner.logger.lines
    assert 'tools/report.py' in Runner.logger.lines[1][1]
    assert 'disk full' in Runner.logger.lines[1][1]
