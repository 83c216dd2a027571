"""progress: one line rewritten in a terminal, at most ten lines an epoch in a log."""
from progress import Progress, format_seconds


class Stream(list):
    def __init__(self, tty):
        list.__init__(self)
        self.tty = tty

    def write(self, text):
        self.append(text)

    def flush(self):
        pass

    def isatty(self):
        return self.tty


def ticking(step):
    now = [0.0]

    def clock():
        now[0] += step
        return now[0]
    return clock


def test_log_gets_at_most_ten_lines_an_epoch():
    out = Stream(tty=False)
    meter = Progress(total=1000, epoch=2, epochs=5, out=out, clock=ticking(0.01))
    for done in range(1, 1001):
        meter.update(done, images=100)
    meter.finish()
    assert len(out) == 10 and all(text.endswith('\n') and '\r' not in text for text in out)
    assert out[0].startswith('  epoch 2/5: minibatch 100/1000 (10%), ')
    assert out[-1].startswith('  epoch 2/5: minibatch 1000/1000 (100%), 10000 images/s')
    assert 'run left' not in out[-1]


def test_few_minibatches_still_give_one_line_each_at_most():
    out = Stream(tty=False)
    meter = Progress(total=3, epoch=0, epochs=1, out=out, clock=ticking(1.0))
    for done in range(1, 4):
        meter.update(done, images=10)
    assert len(out) == 3


def test_terminal_line_is_rewritten_at_most_twice_a_second():
    out = Stream(tty=True)
    meter = Progress(total=100, epoch=1, epochs=3, seconds_per_epoch=60.0, out=out,
                     clock=ticking(0.1))
    for done in range(1, 101):
        meter.update(done, images=50)
    meter.finish()
    assert all(text.startswith('\r') for text in out[:-1]) and out[-1] == '\n'
    assert 15 <= len(out) - 1 <= 22          # 10 s of updates, one write per 0.5 s + the last
    assert 'minibatch 100/100 (100%), 500 images/s, epoch left 0:00:00, run left 0:02:00' in out[-2]


def test_time_left_and_speed_midway():
    out = Stream(tty=False)
    meter = Progress(total=10, epoch=3, epochs=4, seconds_per_epoch=30.0, out=out,
                     clock=ticking(2.0))
    for done in range(1, 6):
        meter.update(done, images=20)
    # 5 minibatches in 10 s: 10 images/s, 5 more minibatches = 10 s, then one epoch of 30 s
    assert out[-1] == ('  epoch 3/4: minibatch 5/10 (50%), 10 images/s, epoch left 0:00:10, '
                       'run left 0:00:40\n')


def test_format_seconds():
    assert format_seconds(0) == '0:00:00' and format_seconds(59.6) == '0:01:00'
    assert format_seconds(2 * 86400 + 3661) == '2 days, 1:01:01'
