"""The terminal of a benchmark: a progress bar and the summaries only.

Training runs log (MMEngine's logger, upstream warnings, our own) to
whatever ``sys.stdout`` / ``sys.stderr`` are when they start. While a
:class:`Console` is open those are one log file in the work dir, so no log
line breaks up the bar; the bar and the messages meant for the user go to
the terminal the benchmark started with.
"""
import os
import os.path as osp
import sys
from typing import Optional


class Console:
    """Bar and messages on the terminal, everything else into ``log_path``.

    Args:
        log_path: The file that receives the runs' output (appended to).
        total: The bar's length (e.g. planned epochs or runs); None for no
            bar, messages only.
        unit: What the bar counts.
        desc: The bar's label.
    """

    def __init__(self, log_path: str, total: Optional[int] = None,
                 unit: str = 'run', desc: str = 'benchmark'):
        self.log_path = log_path
        self.total, self.unit, self.desc = total, unit, desc
        self.bar = None
        self._log = None

    def __enter__(self):
        self.stdout, self.stderr = sys.stdout, sys.stderr
        os.makedirs(osp.dirname(osp.abspath(self.log_path)), exist_ok=True)
        self._log = open(self.log_path, 'a', buffering=1)
        if self.total is not None:
            from tqdm import tqdm
            self.bar = tqdm(total=self.total, unit=self.unit, desc=self.desc,
                            dynamic_ncols=True, file=self.stderr)
        self.print(f'run logs: {self.log_path}')
        sys.stdout = sys.stderr = self._log
        return self

    def progress(self, message: str, amount: int = 1) -> None:
        """Advance the bar by ``amount`` and show ``message`` above it.

        Args:
            message: One line for the user.
            amount: How far the bar moves (in its unit).
        """
        if self.bar is not None:
            self.bar.update(amount)
            self.bar.set_postfix_str(message)
        self.print(message)

    def print(self, text: str) -> None:
        """Print ``text`` on the terminal, above the bar.

        Args:
            text: What to print.
        """
        if self.bar is not None:
            self.bar.write(text, file=self.stdout)
        else:
            print(text, file=self.stdout, flush=True)

    def __exit__(self, *exc):
        sys.stdout, sys.stderr = self.stdout, self.stderr
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        # Loggers made during the runs keep this file as their stream; it
        # stays open (flushed) so a late log line is not an error.
        self._log.flush()
        return False
