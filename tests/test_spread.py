"""--balance: where files and articles are spread in bins of equal size."""
from __future__ import annotations

import pytest

from pipeline.build import balance_enabled, read_spread
from pipeline.options import NewsOptions

BASE = ["--input", "x", "--output", "y"]


@pytest.mark.parametrize("args, balanced, spread", [
    ([], False, "none"),                                             # one local worker
    (["--direct_running_mode=multi_processing", "--direct_num_workers=2"], True, "bins"),
    (["--direct_num_workers=0"], True, "bins"),                      # 0: every core
    (["--runner=FlinkRunner"], True, "bins"),                        # static splits
    (["--runner=PrismRunner"], True, "bins"),
    (["--runner=DataflowRunner"], False, "reshuffle"),               # rebalances itself
    (["--balance=on"], True, "bins"),
    (["--balance=off", "--direct_num_workers=2"], False, "reshuffle"),
    (["--balance=off", "--runner=FlinkRunner"], False, "reshuffle"),
])
def test_balance_auto_follows_the_runner(args, balanced, spread):
    opts = NewsOptions(BASE + args).view_as(NewsOptions)
    assert balance_enabled(opts) is balanced
    assert read_spread(opts) == spread


def test_a_bad_balance_value_is_a_one_line_usage_error(tmp_path):
    import subprocess
    import sys

    from tests.conftest import REPO

    done = subprocess.run([sys.executable, "-m", "pipeline", "--input", str(tmp_path),
                           "--output", str(tmp_path / "out"), "--balance=sometimes"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "--balance" in lines[0] and "sometimes" in lines[0]
    assert not (tmp_path / "out").exists()


def test_the_read_config_is_built_once_from_the_options_and_their_defaults():
    import argparse

    from apache_beam.io import fileio

    from pipeline.build import read_config
    from pipeline.flags import add_product_options
    from transforms.read import ReadConfig

    parser = argparse.ArgumentParser()
    add_product_options(parser)
    opts = NewsOptions(BASE + ["--input", "z"]).view_as(NewsOptions)
    assert read_config(opts, read_spread(opts)) == ReadConfig(
        ("x", "z"), parser.get_default("max_document_bytes"), "none")
    opts = NewsOptions(BASE + ["--max_document_bytes", "5"]).view_as(NewsOptions)
    watch = fileio.MatchContinuously("w/**")
    assert read_config(opts, "reshuffle", matcher=watch) == ReadConfig(
        (), 5, "reshuffle", matcher=watch)  # a matcher finds the files: no patterns
    with pytest.raises(ValueError, match="spread must be one of"):
        ReadConfig(("x",), 5, "sometimes")
