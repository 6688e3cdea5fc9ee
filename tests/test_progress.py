"""The study's progress display: counts, env steps per second without compilation, the time
left, a line every 30 s in a log, one rewritten line in a terminal; and the compilation cache's
folder."""

import io
from pathlib import Path

import pytest

from bootstrap_rl import compilation_cache
from bootstrap_rl.progress import StudyProgress, count, duration


class Fake:
    """A clock and a compile counter the test moves by hand."""

    def __init__(self):
        self.now, self.compile_s, self.hits = 100.0, 0.0, 0

    def clock(self):
        return self.now

    def compiled(self):
        return {"compile_s": self.compile_s, "persistent_cache_hits": self.hits}


def test_counts_rate_and_time_left_in_a_log(tmp_path):
    fake, log = Fake(), io.StringIO()  # a StringIO is not a TTY: periodic plain lines
    progress = StudyProgress(3, 1_000_000, 2, stream=log, clock=fake.clock, compiled=fake.compiled)
    assert not progress.tty
    progress.start_run("arm direct", 1, compiles=True)
    assert progress.rate() is None and progress.seconds_left() is None
    assert "arms 0/3 | env steps 0/1M (0%) | ? env steps/s | ? left" == progress.line()

    fake.now, fake.compile_s, fake.hits = 140.0, 10.0, 3  # 40 s, of which 10 s compiling
    progress.advance(200_000)
    # 200k steps in 30 s of training: 6,667/s; 800k left take 120 s, and the one program yet
    # to compile takes the 10 s that the first one took: 130 s.
    assert progress.rate() == pytest.approx(200_000 / 30)
    assert progress.seconds_left() == pytest.approx(800_000 / (200_000 / 30) + 10)
    lines = log.getvalue().splitlines()
    assert lines == ["compiling program 1/2 (arm direct) ...",
                     "compiled program 1/2 in 10 s, 3 from the persistent cache",
                     "arms 0/3 | env steps 200k/1M (20%) | 6.67k env steps/s | 2:10 left"]

    fake.now = 160.0  # 20 s since the last line: no new line yet
    progress.advance(100_000)
    progress.finish_run(1)
    assert len(log.getvalue().splitlines()) == 3

    progress.start_run("run grid (2 arms)", 2, compiles=False)  # shares the program: no compile line
    fake.now = 175.0  # 35 s since the last line
    progress.advance(300_000)
    # 600k steps in 65 s of training; 400k left: 400k / (600k / 65) = 43.3 s, plus 10 s.
    assert progress.seconds_left() == pytest.approx(400_000 * 65 / 600_000 + 10)
    assert log.getvalue().splitlines()[-1] == "arms 1/3 | env steps 600k/1M (60%) | 9.23k env steps/s | 0:53 left"
    progress.finish_run(2)
    progress.close()
    assert log.getvalue().splitlines()[-1].startswith("arms 3/3 | env steps 600k/1M (60%)")
    assert "\r" not in log.getvalue()


def test_resumed_work_counts_as_done_but_not_in_the_rate():
    fake = Fake()
    progress = StudyProgress(2, 1000, 1, stream=io.StringIO(), clock=fake.clock, compiled=fake.compiled)
    progress.skip(arms=1, env_steps=500)
    fake.now += 10
    progress.advance(100)
    assert progress.rate() == pytest.approx(10.0)  # 100 steps in 10 s, not 600
    assert progress.seconds_left() == pytest.approx(400 / 10.0)
    assert progress.line().startswith("arms 1/2 | env steps 600/1k (60%)")


def test_in_a_terminal_one_line_is_rewritten_and_messages_go_above_it():
    fake, screen = Fake(), io.StringIO()
    progress = StudyProgress(1, 1000, 1, stream=screen, clock=fake.clock, compiled=fake.compiled, tty=True)
    fake.now += 1
    progress.advance(100)
    fake.now += 1
    progress.advance(100)
    assert screen.getvalue().count("\r\x1b[K") == 2 and "\n" not in screen.getvalue()
    printed = []
    log = progress.wrap(lambda text: printed.append((text, screen.getvalue())))
    log("stage easy done")
    # The line was cleared before the message and drawn again after it.
    assert printed[0][1].endswith("\r\x1b[K")
    assert screen.getvalue().endswith("\r\x1b[K" + progress.line())
    progress.close()
    assert screen.getvalue().endswith(progress.line() + "\n")


def test_numbers_read_short():
    assert [count(n) for n in (950, 12_345, 1_234_567, 4.56e9)] == ["950", "12.3k", "1.23M", "4.56G"]
    assert [duration(s) for s in (0, 59.6, 130, 3725)] == ["0:00", "1:00", "2:10", "1:02:05"]


def test_the_compilation_cache_folder(monkeypatch, tmp_path):
    import jax

    monkeypatch.delenv(compilation_cache.ENV_VAR, raising=False)
    before = jax.config.jax_compilation_cache_dir  # the test session's cache (conftest)
    jax.config.update("jax_compilation_cache_dir", str(tmp_path / "jax's own"))
    try:
        assert compilation_cache.resolve(True) == tmp_path / "jax's own"  # JAX told already: kept
    finally:
        jax.config.update("jax_compilation_cache_dir", None)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compilation_cache.resolve(True) == tmp_path / "xdg" / "bootstrap-rl" / "jax"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert compilation_cache.resolve(True) == Path.home() / ".cache" / "bootstrap-rl" / "jax"
    monkeypatch.setenv(compilation_cache.ENV_VAR, str(tmp_path / "mine"))
    assert compilation_cache.resolve(True) == tmp_path / "mine"
    for off in ("0", "off", "", "none"):
        monkeypatch.setenv(compilation_cache.ENV_VAR, off)
        assert compilation_cache.resolve(True) is None
    assert compilation_cache.resolve(tmp_path / "asked") == tmp_path / "asked"  # a folder given wins
    assert compilation_cache.resolve(False) is None
    jax.config.update("jax_compilation_cache_dir", before)
