import subprocess
import sys


def test_core_imports_no_front_end() -> None:
    code = "import sys, retrieval, retrieval.engine; print(sorted(m for m in sys.modules if m.split('.')[0] in ('telegram', 'bot')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
