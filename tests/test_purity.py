import subprocess
import sys


def test_core_imports_no_front_end() -> None:
    code = "import sys, retrieval, retrieval.engine; print(sorted(m for m in sys.modules if m.split('.')[0] in ('telegram', 'bot')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_core_imports_no_measuring_tools() -> None:
    """rank-bm25 and psutil are the `tools` extra: answering must not need them."""
    code = (
        "import sys, retrieval, retrieval.engine; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('measure', 'rank_bm25', 'psutil')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_cli_does_not_load_telegram() -> None:
    code = "import sys, bot.cli; print(sorted(m for m in sys.modules if m.split('.')[0] == 'telegram' or m == 'bot.telegram.app'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
