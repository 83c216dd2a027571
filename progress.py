"""Progress of a training epoch: images/s and the time left, readable in a log.

In a terminal one line is rewritten in place (``\\r``) at most twice a second;
in a file or pipe (``nohup``, ``tee``) a full line is written at each tenth
of the epoch, so a log gets at most ten such lines per epoch.

Examples
--------
>>> class Log(list):
...     def write(self, text):
...         self.append(text)
...     def flush(self):
...         pass
>>> ticks = iter(range(100))           # a clock that ticks one second per reading
>>> log = Log()
>>> p = Progress(total=4, epoch=1, epochs=3, out=log, clock=lambda: next(ticks))
>>> for done in range(1, 5):
...     p.update(done, images=100)
>>> p.finish()
>>> print(log[-1].rstrip())
  epoch 1/3: minibatch 4/4 (100%), 100 images/s, epoch left 0:00:00
"""
from __future__ import absolute_import, division, print_function

import sys
import time

__all__ = ['Progress', 'format_seconds']


def format_seconds(seconds):
    """'H:MM:SS' (days written out when over 24 hours).

    >>> format_seconds(3725.4), format_seconds(90000)
    ('1:02:05', '1 day, 1:00:00')
    """
    seconds = int(round(max(seconds, 0)))
    days, rest = divmod(seconds, 86400)
    text = '%d:%02d:%02d' % (rest // 3600, rest % 3600 // 60, rest % 60)
    return ('%d day%s, %s' % (days, '' if days == 1 else 's', text)) if days else text


class Progress(object):
    """Report the minibatches of one epoch.

    Parameters
    ----------
    total : int
        Minibatches in the epoch.
    epoch, epochs : int
        This epoch and the last one, for the line and the run's time left.
    seconds_per_epoch : float, optional
        Measured length of a whole epoch (training and evaluation) so far;
        with it the line also gives the time left in the run.
    out : file, optional
        Where to write (``sys.stdout``).
    clock : callable, optional
        Time source in seconds (``time.time``).
    """

    def __init__(self, total, epoch, epochs, seconds_per_epoch=None, out=None, clock=None):
        self.total, self.epoch, self.epochs = total, epoch, epochs
        self.seconds_per_epoch = seconds_per_epoch
        self.out = sys.stdout if out is None else out
        self.clock = clock or time.time
        self.interactive = bool(getattr(self.out, 'isatty', lambda: False)())
        self.started = self.clock()
        self.images = 0
        self.done = 0
        self.last_written = None
        self.next_tenth = 1
        self.pending = False

    def update(self, done, images):
        """``done`` minibatches finished, the last one of ``images`` images."""
        self.done, self.images = done, self.images + images
        now = self.clock()
        if self.interactive:
            if self.last_written is None or now - self.last_written >= 0.5 or done == self.total:
                self._write(now, end='')
        elif done * 10 >= self.next_tenth * self.total:
            while done * 10 >= self.next_tenth * self.total:
                self.next_tenth += 1
            self._write(now, end='\n')

    def line(self, now):
        elapsed = max(now - self.started, 1e-9)
        rate = self.images / elapsed
        left = elapsed / max(self.done, 1) * (self.total - self.done)
        text = ('  epoch %d/%d: minibatch %d/%d (%d%%), %.0f images/s, epoch left %s'
                % (self.epoch, self.epochs, self.done, self.total,
                   100 * self.done // max(self.total, 1), rate, format_seconds(left)))
        if self.seconds_per_epoch:
            run_left = left + self.seconds_per_epoch * (self.epochs - self.epoch)
            text += ', run left %s' % format_seconds(run_left)
        return text

    def _write(self, now, end):
        text = self.line(now)
        if self.interactive:
            text = '\r' + text + '\033[K'
        self.out.write(text + end)
        self.out.flush()
        self.last_written = now
        self.pending = self.interactive

    def finish(self):
        """End the in-place line (terminal) so that the next output starts clean."""
        if self.pending:
            self.out.write('\n')
            self.out.flush()
            self.pending = False
