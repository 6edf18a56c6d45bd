"""Damaged trial folders (issue 14, item 6): resume checks every chunk file (readable Parquet, row count,
arm, patient ids) and recomputes the bad ones; one run at a time writes a folder (an OS lock, released when
the run's process dies); temporary names are unique per writer; only the expected chunk files are read."""

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cartsim.cli import app
from cartsim.trial import Trial, TrialError, TrialWarning, read_patients, run_trial
from cartsim.trial._run import LOCK, MANIFEST, _partial, chunks, folder_lock

N = 6
CHUNK = 2
SPEC = {
    "name": "resume",
    "patients_per_arm": N,
    "seed": 11,
    "follow_up_days": 60,
    "arms": [{"name": "CD28", "product": {"costimulation": "CD28"}},
             {"name": "4-1BB", "product": {"costimulation": "4-1BB"}}],
}


@pytest.fixture(scope="module")
def trial():
    return Trial.validated(SPEC)


@pytest.fixture(scope="module")
def finished(trial, tmp_path_factory):
    """A clean, finished run and its patients."""
    out = tmp_path_factory.mktemp("finished") / "run"
    return out, run_trial(trial, out, chunk_size=CHUNK)


@pytest.fixture
def copy(finished, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(finished[0], out)
    return out


def _chunk(out: Path, arm: int, first: int) -> Path:
    return out / "patients" / f"arm-{arm}" / f"chunk-{first:09d}.parquet"


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


def _truncate(out):
    path = _chunk(out, 1, 2)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _other_arm(out):
    shutil.copyfile(_chunk(out, 0, 0), _chunk(out, 1, 0))


def _other_patients(out):
    shutil.copyfile(_chunk(out, 0, 4), _chunk(out, 0, 2))


def _fewer_rows(out):
    path = _chunk(out, 0, 4)
    pd.read_parquet(path).iloc[:1].to_parquet(path, index=False)


def _empty(out):
    _chunk(out, 1, 4).write_bytes(b"")


@pytest.mark.parametrize("damage", [_truncate, _other_arm, _other_patients, _fewer_rows, _empty])
def test_resume_recomputes_damaged_chunks_and_equals_a_clean_run(trial, finished, copy, damage):
    damage(copy)
    with pytest.warns(TrialWarning, match=r"^1 chunk file\(s\) .* recomputed"):
        patients = run_trial(trial, copy, chunk_size=CHUNK, resume=True)
    _same(patients, finished[1])
    _same(read_patients(copy, trial), finished[1])
    with warnings.catch_warnings():  # now every chunk is good: nothing to recompute
        warnings.simplefilter("error", TrialWarning)
        run_trial(trial, copy, chunk_size=CHUNK, resume=True)


def test_a_damaged_chunk_is_named_when_read(trial, copy):
    _truncate(copy)
    with pytest.raises(TrialError, match=r"arm-1/chunk-000000002\.parquet cannot be read.*--resume"):
        read_patients(copy, trial)


def test_a_chunk_with_other_rows_is_named_when_read(trial, copy):
    _fewer_rows(copy)
    with pytest.raises(TrialError, match=r"arm-0/chunk-000000004\.parquet holds 1 rows instead of 2.*--resume"):
        read_patients(copy, trial)


def test_read_patients_equals_the_chunks_concatenated_also_with_missing_values(trial, copy):
    # A chunk whose integer and boolean columns have a missing value reads as float and object: the streamed
    # read widens those columns for every patient, as concatenating the chunk frames does.
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = _chunk(copy, 1, 2)
    table = pq.read_table(path).replace_schema_metadata(None)
    for name, kind in (("crs_max_grade", pa.int8()), ("gvhd", pa.bool_())):
        values = [None, *table.column(name).to_pylist()[1:]]
        table = table.set_column(table.schema.get_field_index(name), name, pa.array(values, kind))
    pq.write_table(table, path)
    files = [_chunk(copy, arm, first) for arm in (0, 1) for first in range(0, N, CHUNK)]
    expected = pd.concat([pq.read_table(p).to_pandas() for p in files], ignore_index=True)
    patients = read_patients(copy, trial)
    assert patients["crs_max_grade"].dtype == float and patients["gvhd"].dtype == object
    assert patients["crs_max_grade"].isna().sum() == 1 and patients["gvhd"].isna().sum() == 1
    pd.testing.assert_frame_equal(patients, expected.astype({"seed": "uint64"}), check_exact=True)


def test_read_patients_reads_only_the_expected_chunks(trial, finished, copy):
    arm = copy / "patients" / "arm-0"
    (arm / "chunk-000000004.partial").write_bytes(b"half-written")
    (arm / ".chunk-000000002.parquet.123-abcd.partial").write_bytes(b"half-written")
    shutil.copyfile(_chunk(copy, 0, 0), arm / "chunk-000000006.parquet")  # not a chunk of this run
    shutil.copytree(arm, copy / "patients" / "arm-7")
    _same(read_patients(copy, trial), finished[1])
    _same(run_trial(trial, copy, chunk_size=CHUNK, resume=True), finished[1])
    assert not list(copy.glob("patients/*/*.partial"))  # leftovers of killed writers are cleaned up


def test_temporary_names_are_unique_per_writer(tmp_path):
    path = _chunk(tmp_path, 0, 0)
    names = {_partial(path) for _ in range(20)}
    assert len(names) == 20
    assert all(p.parent == path.parent and str(os.getpid()) in p.name and p.suffix == ".partial" for p in names)


def test_a_second_run_on_a_folder_being_written_is_refused(trial, finished, tmp_path):
    out = tmp_path / "run"
    with folder_lock(out):
        with pytest.raises(TrialError, match=rf"being written by another run \(pid {os.getpid()}\).*--out"):
            run_trial(trial, out, chunk_size=CHUNK)
        with pytest.raises(TrialError, match="another run"):
            run_trial(trial, out, chunk_size=CHUNK, resume=True)
    assert not (out / MANIFEST).exists()  # the refused runs wrote nothing
    _same(run_trial(trial, out, chunk_size=CHUNK), finished[1])
    assert not (out / LOCK).exists()


def test_a_killed_runs_lock_does_not_block(trial, finished, copy):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom cartsim.trial._run import folder_lock\n"
         "with folder_lock(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(120)\n", str(copy)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")})
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(TrialError, match=rf"another run \(pid {holder.pid}\)"):
            run_trial(trial, copy, chunk_size=CHUNK, resume=True)
    finally:
        holder.kill()
        holder.wait()
    assert (copy / LOCK).exists()  # killed: its lock file stays, but not its lock
    _same(run_trial(trial, copy, chunk_size=CHUNK, resume=True), finished[1])


def test_a_run_that_failed_before_its_first_chunk_can_be_rerun(trial, finished, tmp_path):
    out = tmp_path / "run"

    def crash(done, total):
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        run_trial(trial, out, chunk_size=CHUNK, progress=crash)
    assert (out / MANIFEST).exists() and not list(out.glob("patients/*/*.parquet"))
    _same(run_trial(trial, out, chunk_size=CHUNK), finished[1])  # nothing to lose: no --resume needed
    # A run that wrote chunks then failed: refused without --resume, finished with it.
    for path in list(out.glob("patients/arm-1/*.parquet")):
        path.unlink()
    with pytest.raises(TrialError, match="--resume"):
        run_trial(trial, out, chunk_size=CHUNK)
    _same(run_trial(trial, out, chunk_size=CHUNK, resume=True), finished[1])


def test_a_manifest_alone_from_another_trial_is_replaced(trial, finished, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / MANIFEST).write_text(json.dumps({"trial": {}, "n": 1, "chunk_size": 1}))
    _same(run_trial(trial, out, chunk_size=CHUNK, resume=True), finished[1])
    assert json.loads((out / MANIFEST).read_text())["chunk_size"] == CHUNK
    assert len(list(out.glob("patients/*/*.parquet"))) == len(chunks(trial, N, CHUNK))


def test_cli_resume_says_how_many_chunks_it_recomputed(copy):
    spec = copy.parent / "trial.yaml"
    spec.write_text(json.dumps(SPEC))
    _other_arm(copy)
    _truncate(copy)
    result = CliRunner().invoke(app, ["trial", str(spec), "--out", str(copy), "--chunk-size", str(CHUNK),
                                      "--resume"])
    assert result.exit_code == 0, result.output
    assert "2 chunk file(s)" in result.output and "recomputed" in result.output
