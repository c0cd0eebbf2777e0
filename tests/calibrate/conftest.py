"""Every calibration test runs torch on one thread: the tensors are tiny, and on a shared machine extra
threads only add synchronisation cost (and keep reductions in a fixed order)."""

from pathlib import Path

import pytest

_HERE = Path(__file__).parent
# torch.func's first jvp scripts its decompositions with the deprecated torch.jit.script (torch internals)
_TORCH_FUNC_WARNING = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


def pytest_collection_modifyitems(items):
    for item in items:
        if _HERE in Path(item.fspath).parents:
            item.add_marker(_TORCH_FUNC_WARNING)


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    yield
