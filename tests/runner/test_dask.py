import hashlib

import pytest

from distillplan.errors import DistillPlanError
from distillplan.runner import ResultStore, run_sweep
from tests.runner.toy_study import TOY

distributed = pytest.importorskip("distributed")


@pytest.mark.parametrize("processes", [False, True], ids=["threads", "processes"])
def test_dask_local_cluster_gives_the_same_rows_as_the_local_engine(tmp_path, processes):
    with ResultStore(tmp_path / "local.sqlite") as local:
        run_sweep(TOY, TOY.sweep("quick"), local, workers=1, progress=False)
        expected = local.rows("toy")
    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=processes, dashboard_address=None
    )
    try:
        with ResultStore(tmp_path / "dask.sqlite") as store:
            report = run_sweep(TOY, TOY.sweep("quick"), store, engine="dask",
                               scheduler=cluster.scheduler_address, progress=False)
            assert report.completed == 6
            assert store.rows("toy") == expected
            again = run_sweep(TOY, TOY.sweep("quick"), store, engine="dask",
                              scheduler=cluster.scheduler_address, progress=False)
            assert (again.completed, again.skipped) == (0, 6)
    finally:
        cluster.close()


def test_unreachable_scheduler_names_the_argument_and_keeps_the_store(tmp_path):
    path = tmp_path / "r.sqlite"
    with ResultStore(path) as store:
        run_sweep(TOY, TOY.sweep("quick"), store, workers=1, progress=False)
        before = store.rows("toy")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with ResultStore(path) as store:
        with pytest.raises(DistillPlanError) as info:
            run_sweep(TOY, TOY.sweep("quick").with_seeds([7]), store, engine="dask",
                      scheduler="tcp://127.0.0.1:1", connect_timeout=1.0, progress=False)
        assert info.value.argument == "scheduler"
        assert "127.0.0.1:1" in str(info.value) and "\n" not in str(info.value)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    with ResultStore(path) as store:
        assert store.rows("toy") == before
