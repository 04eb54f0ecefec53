"""`ppobr reruns`: runs recorded by several summaries are compared exactly on what learning decides."""

import json
import math

import pytest

from ppobr_study import cli
from ppobr_study import reruns as R


def run(seed, final_return=100.0, seconds=2.5, late_variance=4.0):
    return {
        "seed": seed,
        "episodes": 50,
        "steps_to_threshold": None,
        "reached": False,
        "final_return": final_return,
        "late_variance": late_variance,
        "iterations": 8,
        "seconds_per_iteration": seconds,
        "cpu_seconds": 10 * seconds,
    }


def write_summary(folder, env, steps, runs):
    group = folder / f"{env}_{steps}"
    group.mkdir(parents=True)
    (group / "summary.json").write_text(json.dumps({"env": env, "steps": steps, "runs": runs}))


@pytest.fixture
def folders(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    write_summary(
        old, "Hopper-v5", 1000, {"ppo": [run(0), run(1)], "ppobr": [run(0, late_variance=math.nan)]}
    )
    # seed 0 rerun elsewhere: timings differ (another machine), learning identical; seed 2 is new
    write_summary(
        new,
        "Hopper-v5",
        1000,
        {
            "ppo": [run(0, seconds=9.0), run(2)],
            "ppobr": [run(0, seconds=1.0, late_variance=math.nan)],
        },
    )
    # the same seed at another budget is another run
    write_summary(new, "Hopper-v5", 2000, {"ppo": [run(1, final_return=5.0)]})
    return old, new


def test_identical_reruns_pass_and_timings_are_not_compared(folders):
    records = R.collect(folders)
    assert len(records) == 5
    repeated, mismatches = R.check(records)
    assert repeated == [("Hopper-v5", 1000, "ppo", 0), ("Hopper-v5", 1000, "ppobr", 0)]
    assert mismatches == []  # NaN late variance on both sides counts as the same
    text = R.format_report(repeated, mismatches)
    assert text.startswith("ppobr reruns: 2 run(s) recorded more than once, 2 identical, 0 differ")
    assert "Hopper-v5 1000 ppo: seeds 0" in text


def test_a_rerun_that_differs_in_its_last_bit_is_reported(folders, capsys):
    old, new = folders
    path = new / "Hopper-v5_1000" / "summary.json"
    s = json.loads(path.read_text())
    s["runs"]["ppo"][0]["final_return"] = math.nextafter(100.0, 200.0)
    path.write_text(json.dumps(s))
    repeated, mismatches = R.check(R.collect([old, new]))
    assert [(m.key, m.metric) for m in mismatches] == [
        (("Hopper-v5", 1000, "ppo", 0), "final_return")
    ]
    assert cli.main(["reruns", str(old), str(new)]) == 1
    out = capsys.readouterr().out
    assert "1 identical, 1 differ" in out and "seeds 0 (DIFFERS)" in out and "final_return" in out


def test_reruns_command_ok_and_names_a_missing_folder(folders, tmp_path, capsys):
    assert cli.main(["reruns", *map(str, folders)]) == 0
    assert "2 identical, 0 differ" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["reruns", str(tmp_path / "nowhere")])
    assert "folders: no such folder" in capsys.readouterr().err
